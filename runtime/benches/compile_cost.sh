#!/usr/bin/env bash
# Compile cost of 300 annotated handlers: ours (#[permission_required]) vs
# actix-web-grants (#[protect]), both on actix-web, debug profile, sharing one
# warm target directory for the dependencies. Measures a clean build of the
# generated crate and an incremental rebuild after touching one handler.
# With --instructions, each of those builds runs under valgrind's cachegrind
# and the script reports the instructions rustc executed instead of seconds:
# slower (minutes), but the same on every run, so a few per cent show.
# Usage: runtime/benches/compile_cost.sh [--instructions] [handlers]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
instructions=
if [ "${1:-}" = --instructions ]; then instructions=1; shift; fi
n=${1:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

generate() { # name, dependency line, import, attribute prefix
    local dir="$work/$1"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
actix-web = { version = "4.11", default-features = false, features = ["macros", "cookies", "secure-cookies"] }
$2

[workspace]
TOML
    {
        echo "$3"
        for i in $(seq 1 "$n"); do
            echo "$4(\"app.perm_$i\")]"
            echo "async fn handler_$i() -> &'static str { \"$i\" }"
        done
        echo "fn main() {"
        echo "    let _app = actix_web::App::new()"
        for i in $(seq 1 "$n"); do
            echo "        .route(\"/$i\", actix_web::web::get().to(handler_$i))"
        done
        echo "    ;"
        echo "}"
    } > "$dir/src/main.rs"
}

generate gen_permit "actix-permit = { path = \"$repo/runtime\" }" "use actix_permit::permission_required;" "#[permission_required"
generate gen_grants "actix-web-grants = \"4\"" "use actix_web_grants::protect;" "#[protect"

seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc; }

# rustc of the generated crate (a workspace member; the dependencies are not)
# under cachegrind, when COUNT_TO names the output file.
cat > "$work/count-rustc" <<'SH'
#!/usr/bin/env bash
rustc=$1; shift
[ -n "${COUNT_TO:-}" ] || exec "$rustc" "$@"
exec valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$COUNT_TO" "$rustc" "$@"
SH
chmod +x "$work/count-rustc"
export RUSTC_WORKSPACE_WRAPPER="$work/count-rustc"
if [ -n "$instructions" ]; then
    measure() { COUNT_TO="$work/counted" "$@" >/dev/null 2>&1; awk '/^summary:/ {print $2}' "$work/counted"; }
    unit="instructions"
else
    measure() { printf "%.2f" "$(seconds "$@")"; }
    unit="s"
fi

declare -A clean incr
for name in gen_permit gen_grants; do
    (cd "$work/$name" && cargo build -q)        # warm: dependencies
    (cd "$work/$name" && cargo clean -q -p "$name")
    clean[$name]=$(cd "$work/$name" && measure cargo build)
    sed -i "s/async fn handler_1() -> &'static str { \"1\" }/async fn handler_1() -> \&'static str { \"one\" }/" "$work/$name/src/main.rs"
    incr[$name]=$(cd "$work/$name" && measure cargo build)
done
printf "%-12s %16s %16s\n" crate "clean ($unit)" "rebuild ($unit)"
for name in gen_permit gen_grants; do printf "%-12s %16s %16s\n" "$name" "${clean[$name]}" "${incr[$name]}"; done
echo "ours/grants clean: $(echo "scale=3; ${clean[gen_permit]} / ${clean[gen_grants]}" | bc)"
echo "ours/grants rebuild: $(echo "scale=3; ${incr[gen_permit]} / ${incr[gen_grants]}" | bc)"
