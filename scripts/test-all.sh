#!/usr/bin/env bash
# Runs every test of the project. Idempotent; installs what the tests need on a fresh Debian
# machine (today: only the Rust toolchain's own components) and caches builds under target/.
# `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# Property tests: a fixed number of cases keeps CI time predictable; raise it locally with
# PROPTEST_CASES=1000 scripts/test-all.sh.
export PROPTEST_CASES="${PROPTEST_CASES:-64}"

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -E '^(clippy|rustfmt)' >/dev/null \
  || rustup component add clippy rustfmt

step "format"
cargo fmt --all -- --check

step "lints (workspace lints, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# The end-to-end tests start the relay binary as a separate process: build every binary first.
cargo build --workspace --bins --locked
cargo test --workspace --all-targets --locked

step "benchmark smoke test (tiny sizes: the harness must run; its figures mean nothing here)"
for suite in local sync relay; do
  ./target/debug/noaber-bench "$suite" --scale tiny --json "target/bench-smoke-$suite.json" >/dev/null
done

step "doc tests"
cargo test --workspace --doc --locked

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
