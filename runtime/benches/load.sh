#!/usr/bin/env bash
# Load run: the real `inventory` binary (release build, SQLite) under wrk,
# from a second process on loopback: a public route (/healthz) against a
# protected one (/api/me: session, user and permission queries).
# Usage: runtime/benches/load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p inventory
dir=$(mktemp -d)
export DATABASE_URL="sqlite://$dir/inventory.db" PERMIT_SECRET_KEY="load-run-secret-load-run-secret-0123456789" RUST_LOG=warn
target/release/inventory serve --bind 127.0.0.1:0 > "$dir/out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's|^inventory listening on \(http://[^/]*\)/items/$|\1|p' "$dir/out")
cookie=$(curl -s -o /dev/null -D - -d 'username=bob&password=permit-demo' "$base/accounts/login/" \
    | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ -n "$cookie" ] || { echo "login failed"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base/api/me")" = 200 ] || { echo "protected route refused"; exit 1; }

run() { # name, path, extra wrk args
    local out rps p99
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency "${@:3}" "$base$2")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$1 $rps $p99"
}
public=$(run public /healthz)
protected=$(run protected /api/me -H "Cookie: $cookie")
echo "route      requests/s  p99"
echo "$public" | awk '{printf "%-10s %10s  %s\n", $1, $2, $3}'
echo "$protected" | awk '{printf "%-10s %10s  %s\n", $1, $2, $3}'
awk -v a="$(cut -d' ' -f2 <<<"$protected")" -v b="$(cut -d' ' -f2 <<<"$public")" \
    'BEGIN {printf "protected/public throughput: %.3f\n", a / b}'
