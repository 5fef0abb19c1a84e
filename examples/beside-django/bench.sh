#!/usr/bin/env bash
# Throughput beside Django: the Rust API's GET /api/me against the same view
# in Django (GET /polls/me/: the user and get_all_permissions() as JSON)
# under gunicorn with 2 workers, both on one fresh PostgreSQL database,
# same machine, one run, with one Django login's session cookie. wrk on
# loopback, A B B A, [seconds] each with [connections]; prints requests/s,
# p99 and the ratio.
# Usage: DATABASE_URL=postgres://... examples/beside-django/bench.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-10}
connections=${2:-32}
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
python3 -c "import django, guardian, gunicorn, psycopg" || { echo "needs Django, django-guardian, gunicorn, psycopg"; exit 1; }
cargo build --release -q -p beside-django
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c "import json,sys; print(json.load(sys.stdin)['target_directory'])")/release/beside-django
db="beside_django_bench_$$"
dir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    python3 -c "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute(sys.argv[2])" \
        "$DATABASE_URL" "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    rm -rf "$dir"
}
trap cleanup EXIT
python3 -c "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute(sys.argv[2])" \
    "$DATABASE_URL" "CREATE DATABASE $db"
export DJANGO_DATABASE_URL="${DATABASE_URL%/*}/$db" DJANGO_SECRET_KEY="bench-key-bench-key-bench-key" RUST_LOG=error
(cd site && python3 manage.py migrate -v0 && python3 manage.py shell -v0 -c "
from django.contrib.auth.models import User, Group, Permission
u = User.objects.create_user('bench', password='bench pw')
u.user_permissions.add(*Permission.objects.filter(codename__endswith='_question'))
g = Group.objects.create(name='g'); g.permissions.add(*Permission.objects.filter(codename__startswith='view_'))
u.groups.add(g)")
"$bin" install-triggers
(cd site && exec python3 -m gunicorn -w 2 -b 127.0.0.1:0 mysite.wsgi 2> "$dir/gunicorn") &
pids+=($!)
"$bin" --bind 127.0.0.1:0 > "$dir/rust" &
pids+=($!)
for _ in $(seq 1 100); do
    grep -q "Listening at" "$dir/gunicorn" 2>/dev/null && grep -q listening "$dir/rust" 2>/dev/null && break
    sleep 0.1
done
django=$(sed -n 's|.*Listening at: \(http://[^ ]*\).*|\1|p' "$dir/gunicorn" | head -1)
rust=$(sed -n 's|^beside-django listening on \(http://[^/]*\)/api/$|\1|p' "$dir/rust")
jar="$dir/jar"
token=$(curl -s -c "$jar" "$django/accounts/login/" | sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p')
curl -s -b "$jar" -c "$jar" -o /dev/null -H "Origin: $django" \
    --data-urlencode username=bench --data-urlencode "password=bench pw" \
    --data-urlencode "csrfmiddlewaretoken=$token" "$django/accounts/login/"
cookie="sessionid=$(awk '$6 == "sessionid" {print $7}' "$jar")"
for url in "$django/polls/me/" "$rust/api/me"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$url")" = 200 ] || { echo "$url refused"; exit 1; }
done
# The same answer from both.
diff <(curl -s -H "Cookie: $cookie" "$django/polls/me/" | python3 -c "import json,sys; print(sorted(json.load(sys.stdin)['permissions']))") \
     <(curl -s -H "Cookie: $cookie" "$rust/api/me" | python3 -c "import json,sys; print(sorted(json.load(sys.stdin)['permissions']))")

run() { # name url: prints "name requests/s p99"
    local out
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -H "Cookie: $cookie" "$2")
    echo "$1 $(awk '/^Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")"
}
echo "PostgreSQL, $seconds s per run, $connections connections, A B B A"
a1=$(run django "$django/polls/me/"); b1=$(run rust "$rust/api/me")
b2=$(run rust "$rust/api/me"); a2=$(run django "$django/polls/me/")
printf '%s\n%s\n%s\n%s\n' "$a1" "$b1" "$b2" "$a2"
awk '{rps[$1] += $2 / 2} END {printf "django %.0f/s, rust %.0f/s: rust / django = %.1f\n", rps["django"], rps["rust"], rps["rust"] / rps["django"]}' \
    <<<"$(printf '%s\n%s\n%s\n%s\n' "$a1" "$b1" "$b2" "$a2")"
