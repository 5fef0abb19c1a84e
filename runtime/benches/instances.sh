#!/usr/bin/env bash
# Throughput of one instance against two, on a protected route (/api/me), with
# users in PostgreSQL and sessions in Redis: wrk from separate processes on
# loopback, one instance alone, then both at once (same total connections).
# Usage: DATABASE_URL=postgres://... REDIS_URL=redis://... runtime/benches/instances.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server}" "${REDIS_URL:?set REDIS_URL}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p inventory-example
db="inventory_load_$$"
psql "$DATABASE_URL" -qc "CREATE DATABASE $db"
dir=$(mktemp -d)
export DATABASE_URL="${DATABASE_URL%/*}/$db" PERMIT_SECRET_KEY="load-run-secret-load-run-secret-0123456789" RUST_LOG=warn
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; sleep 0.5; psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; rm -rf "$dir"; }
trap cleanup EXIT
start() { # name: starts an instance, sets $base to its address
    target/release/inventory serve --bind 127.0.0.1:0 > "$dir/$1" 2> "$dir/$1.err" < /dev/null &
    pids+=($!)
    for _ in $(seq 1 100); do grep -q listening "$dir/$1" 2>/dev/null && break; sleep 0.1; done
    base=$(sed -n 's|^inventory listening on \(http://[^/]*\)/items/$|\1|p' "$dir/$1")
}
start a
a=$base
start b
b=$base
cookie=$(curl -s -o /dev/null -D - -d 'username=bob&password=permit-demo' "$a/accounts/login/" \
    | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$b/api/me")" = 200 ] || { echo "session not shared"; exit 1; }
rps() { awk '/^Requests\/sec/ {print $2}'; }
one=$(wrk -t1 -c32 -d"${seconds}s" -H "Cookie: $cookie" "$a/api/me" | rps)
wrk -t1 -c16 -d"${seconds}s" -H "Cookie: $cookie" "$a/api/me" | rps > "$dir/ra" &
first=$!
wrk -t1 -c16 -d"${seconds}s" -H "Cookie: $cookie" "$b/api/me" | rps > "$dir/rb" &
second=$!
wait "$first" "$second"
two=$(awk '{s += $1} END {print s}' "$dir/ra" "$dir/rb")
echo "one instance:  $one requests/s"
echo "two instances: $two requests/s"
awk -v a="$two" -v b="$one" 'BEGIN {printf "two/one: %.3f\n", a / b}'
