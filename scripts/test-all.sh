#!/usr/bin/env bash
# Runs every test of the project. Idempotent; installs what the tests need on a fresh Debian
# machine (the Rust toolchain's own components; PostgreSQL's server binaries, whose clusters
# the relay's tests start themselves; for the binding tests a Kotlin compiler from npm and JNA
# from Debian) and caches builds under target/ and downloads under .cache/.
# `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# CI builds a fresh clone once: incremental state would only fill the disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Property tests: a fixed number of cases keeps CI time predictable; raise it locally with
# PROPTEST_CASES=1000 scripts/test-all.sh.
export PROPTEST_CASES="${PROPTEST_CASES:-64}"

# Each step says how much disk is left: CI's disk is small, and a full disk fails a build with a
# message far from its cause.
step() { printf '\n== %s (disk free: %s)\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"; }

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -E '^(clippy|rustfmt)' >/dev/null \
  || rustup component add clippy rustfmt

step "PostgreSQL server binaries (tests start their own throwaway clusters)"
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  as_root() {
    if [ "$(id -u)" = 0 ]; then
      env DEBIAN_FRONTEND=noninteractive "$@"
    elif command -v sudo >/dev/null; then
      sudo env DEBIAN_FRONTEND=noninteractive "$@"
    else
      echo "PostgreSQL is missing and this user cannot install it: run as root or install sudo" >&2
      exit 1
    fi
  }
  as_root apt-get update
  # No system cluster, so no service starts: only the binaries are wanted.
  as_root apt-get install -y --no-install-recommends postgresql-common
  as_root sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  as_root apt-get install -y --no-install-recommends postgresql
fi
ls -d /usr/lib/postgresql/*/bin

step "format"
cargo fmt --all -- --check

step "lints (workspace lints, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# The end-to-end tests start the relay binary as a separate process: build every binary first.
cargo build --workspace --bins --locked
cargo test --workspace --all-targets --locked

step "binding tests (Kotlin on the JVM, Python; reuses the debug build above)"
bash scripts/test-bindings.sh

step "benchmark smoke test (tiny sizes: the harness must run; its figures mean nothing here)"
for suite in local sync relay peer; do
  ./target/debug/noaber-bench "$suite" --scale tiny --json "target/bench-smoke-$suite.json" >/dev/null
done

step "doc tests"
cargo test --workspace --doc --locked

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
