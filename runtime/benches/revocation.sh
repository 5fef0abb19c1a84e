#!/usr/bin/env bash
# Revocation latency with the exact cache: two `inventory` instances on one
# PostgreSQL database (sessions in Redis); a permission revoked (by the CLI,
# then by SQL) is timed until the *other* instance's next request is denied.
# 200 trials each (REVOCATION_TRIALS to change); prints the distribution.
# Usage: DATABASE_URL=postgres://... REDIS_URL=redis://... runtime/benches/revocation.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server}" "${REDIS_URL:?set REDIS_URL}"
cargo test -q --release -p inventory-example --test instances -- --ignored --nocapture \
    revocation_latency 2>&1 | grep -E "^revocation|test result"
