#!/usr/bin/env bash
# Instructions per request, counted by callgrind through gungraun: no check,
# the check by hand, #[permission_required], actix-web-grants' #[protect],
# allowed and denied, each in an app of its own, 100 warm requests each.
# A count does not depend on what else the machine does; it still moves by
# 1-3 % between processes, because std's HashMaps are seeded at random (the
# probe sequences differ), so the bench runs [runs] times (default 5) and
# the medians are what we quote.
# Needs valgrind (apt-get install valgrind); installs gungraun's runner at
# the version Cargo.lock names when it is missing.
# Usage: runtime/benches/instructions.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
version=$(awk '/^name = "gungraun"$/ {getline; gsub(/"/, "", $3); print $3}' Cargo.lock)
if ! gungraun-runner --version 2>/dev/null | grep -q "$version"; then
    cargo install gungraun-runner --version "$version" --locked
fi
runs=${1:-5}
all=
for _ in $(seq 1 "$runs"); do
    out=$(cargo bench -q -p actix-permit --bench instructions 2>&1)
    all+=$(grep -E "^instructions|Instructions:" <<<"$out" | paste - - \
        | sed -E 's/.*requests ([a-z_]+):.*Instructions: *([0-9]+).*/\1 \2/')$'\n'
done
# The median of each variant's counts.
counts=$(sort -k1,1 -k2,2n <<<"$all" | awk 'NF {v[$1] = v[$1] " " $2} END {
    for (k in v) { n = split(v[k], c, " "); print k, c[int((n + 1) / 2)], c[1], c[n] } }' | sort)
echo "variant            instructions per request: median (min-max of $runs runs)"
awk '{printf "%-18s %8.0f  (%.0f-%.0f)\n", $1, $2 / 100, $3 / 100, $4 / 100}' <<<"$counts"
ratio() { awk -v a="$1" -v b="$2" '$1 == a {x = $2} $1 == b {y = $2} END {printf "%.4f", x / y}' <<<"$counts"; }
echo
echo "macro / by hand, allowed: $(ratio macro_allowed by_hand_allowed)"
echo "macro / by hand, denied:  $(ratio macro_denied by_hand_denied)"
echo "macro / grants, allowed:  $(ratio macro_allowed grants_allowed)"
echo "macro / grants, denied:   $(ratio macro_denied grants_denied)"
echo "macro / unprotected:      $(ratio macro_allowed unprotected)"
echo "object / model, allowed:  $(ratio object_allowed model_on_route)"
echo "object denied / model:    $(ratio object_denied model_on_route)"
echo "token / session (OneOf):  $(ratio token_allowed token_session)"
echo "token / session (alone):  $(ratio token_allowed macro_allowed)"
echo "unknown / wrong secret:   $(ratio token_unknown token_wrong)"
echo "recorded / plain session: $(ratio token_records token_session)"
