#!/usr/bin/env bash
# Load run: the real `inventory` binary (release build) under wrk, from a
# second process on loopback, with the exact cache on, on and looking for
# other processes' changes before every lookup (SQLite only), and off:
#   public      GET /healthz     no session, no check
#   protected   GET /api/me      session, user (login_required)
#   permission  GET /api/items   session, user, permission set, item listing
#   baseline    GET /load/items  the same listing with no check
# Each route runs twice for [seconds] with [connections] (A B B A for each
# pair compared); the ratios printed are protected/public and
# permission/baseline, per cache setting.
# Usage: runtime/benches/load.sh [seconds] [connections]
#   LOAD_DB=postgres (with DATABASE_URL=postgres://...) runs on PostgreSQL;
#   the default is a fresh SQLite file.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p inventory-example
dir=$(mktemp -d)
pid=
db=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    [ -n "$db" ] && psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
if [ "${LOAD_DB:-sqlite}" = postgres ]; then
    : "${DATABASE_URL:?LOAD_DB=postgres needs DATABASE_URL=postgres://...}"
    db="inventory_load_$$"
    psql "$DATABASE_URL" -qc "CREATE DATABASE $db"
    url="${DATABASE_URL%/*}/$db"
else
    url="sqlite://$dir/inventory.db"
fi
export DATABASE_URL="$url" PERMIT_SECRET_KEY="load-run-secret-load-run-secret-0123456789" \
    RUST_LOG=error PERMIT_DEMO=true PERMIT_LOAD_BASELINE=1 PERMIT_LOGIN_THROTTLE=off
unset REDIS_URL

run() { # name, path, extra wrk args: prints "name requests/s p99"
    local out rps p99
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency "${@:3}" "$base$2")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$1 $rps $p99"
}

# pair A-name A-path A-cookie B-name B-path B-cookie: runs A B B A, prints
# "A rps p99" and "B rps p99" (rps averaged, p99 the worse of the two).
pair() {
    local a1 b1 b2 a2 ca=() cb=()
    [ -n "$3" ] && ca=(-H "Cookie: $3")
    [ -n "$6" ] && cb=(-H "Cookie: $6")
    a1=$(run "$1" "$2" "${ca[@]}"); b1=$(run "$4" "$5" "${cb[@]}")
    b2=$(run "$4" "$5" "${cb[@]}"); a2=$(run "$1" "$2" "${ca[@]}")
    for x in "$a1 $a2" "$b1 $b2"; do
        awk 'function ms(t) { if (t ~ /us$/) return t / 1000; if (t ~ /ms$/) return t + 0; return t * 1000 }
             {p = ms($3) > ms($6) ? ms($3) : ms($6); printf "%s %.2f %.2fms\n", $1, ($2 + $5) / 2, p}' <<<"$x"
    done
}

echo "database: ${LOAD_DB:-sqlite}, $seconds s per route and run, $connections connections"
settings="on off"
[ "${LOAD_DB:-sqlite}" = sqlite ] && settings="on every-lookup off"
for cache in $settings; do
    interval=1
    [ "$cache" = every-lookup ] && interval=0
    PERMIT_EXACT_CACHE=${cache/every-lookup/on} PERMIT_SQLITE_CHECK_INTERVAL_MS=$interval \
        target/release/inventory serve --bind 127.0.0.1:0 > "$dir/out" &
    pid=$!
    for _ in $(seq 1 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
    base=$(sed -n 's|^inventory listening on \(http://[^/]*\)/items/$|\1|p' "$dir/out")
    cookie=$(curl -s -o /dev/null -D - -d 'username=bob&password=permit-demo' "$base/accounts/login/" \
        | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
    [ -n "$cookie" ] || { echo "login failed"; exit 1; }
    for path in /api/me /api/items; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base$path")" = 200 ] \
            || { echo "$path refused"; exit 1; }
    done
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/load/items")" = 200 ] || { echo "no baseline"; exit 1; }
    # Each pair in the order A B B A, averaged: a drift during the run
    # (the database warming, another process waking) cancels out.
    public=$(pair public /healthz "" protected /api/me "$cookie")
    protected=$(tail -1 <<<"$public"); public=$(head -1 <<<"$public")
    permission=$(pair permission /api/items "$cookie" baseline /load/items "")
    baseline=$(tail -1 <<<"$permission"); permission=$(head -1 <<<"$permission")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    echo
    echo "exact cache $cache"
    echo "route        requests/s  p99"
    for line in "$public" "$protected" "$permission" "$baseline"; do
        echo "$line" | awk '{printf "%-12s %10s  %s\n", $1, $2, $3}'
    done
    rps() { cut -d' ' -f2 <<<"$1"; }
    awk -v a="$(rps "$protected")" -v b="$(rps "$public")" -v c="$(rps "$permission")" -v d="$(rps "$baseline")" \
        'BEGIN {printf "protected/public: %.3f   permission/baseline: %.3f\n", a / b, c / d}'
done
