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
# The same beside a Django site (DjangoBackend with its triggers): revoked
# through Django's ORM (timed from the command sent to Django's process)
# and by SQL (timed from the commit), on a fresh database of that server.
cargo test -q --release -p actix-permit-tests --test behaviour -- --ignored --nocapture \
    django_revocation_latency 2>&1 | grep -E "^revocation|test result"
