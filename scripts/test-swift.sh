#!/usr/bin/env bash
# The Swift binding tests: `swift test` over ios/NoaberKit (XCTest) in a Debian trixie chroot
# (scripts/swift-env.sh), against the host-built debug libnoaber_ffi and a real relay, plus a
# syntax check (`swiftc -parse`) of every SwiftUI source in ios/NoaberApp (SwiftUI exists only
# on Apple systems, so the app cannot be built here).
#
# Builds no Rust: it expects what scripts/test-bindings.sh built and generated —
# target/debug/libnoaber_ffi.so, target/debug/noaber-relay and target/bindings/gen/ — and may
# be run on its own after it. Copies the generated Swift, header and modulemap into the
# package's ignored folders. SwiftPM's build folder is cached in .cache/swift-build/.
#
# Prints exactly one line,
#   swift: N passed, M failed
# (a build failure is `swift: 0 passed, 1 failed`; an app source that does not parse counts as
# one more failure) and exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

GEN="$ROOT/target/bindings/gen"
LIB="$ROOT/target/debug/libnoaber_ffi.so"
RELAY="$ROOT/target/debug/noaber-relay"
PKG="$ROOT/ios/NoaberKit"
OUT="$ROOT/target/bindings/swift"
mkdir -p "$OUT"

fail() {
  echo "swift: $*" >&2
  echo "swift: 0 passed, 1 failed"
  exit 1
}

for f in "$LIB" "$RELAY" "$GEN/noaber_ffi.swift" "$GEN/noaber_ffiFFI.h" "$GEN/noaber_ffiFFI.modulemap"; do
  [ -e "$f" ] || fail "missing $f (run scripts/test-bindings.sh first)"
done

# Copies only what changed, so SwiftPM rebuilds only then.
install_file() { # src dst
  cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"
}
# SwiftPM's incremental build does not always recompile a module whose imported types changed
# layout (seen: a record gaining an enum field left the test module reading old offsets), so
# the cached build folder is used only for the generated FFI it was built with.
ffi_sum=$(cat "$GEN/noaber_ffi.swift" "$GEN/noaber_ffiFFI.h" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$ROOT/.cache/swift-build.ffi" 2>/dev/null || true)" != "$ffi_sum" ]; then
  rm -rf "$ROOT/.cache/swift-build"
  mkdir -p "$ROOT/.cache"
  echo "$ffi_sum" >"$ROOT/.cache/swift-build.ffi"
fi
install_file "$GEN/noaber_ffi.swift" "$PKG/Sources/NoaberFFI/noaber_ffi.swift"
install_file "$GEN/noaber_ffiFFI.h" "$PKG/Sources/noaber_ffiFFI/noaber_ffiFFI.h"
install_file "$GEN/noaber_ffiFFI.modulemap" "$PKG/Sources/noaber_ffiFFI/module.modulemap"

bash "$ROOT/scripts/swift-env.sh" setup

# Inside the chroot the repository is /repo.
export NOABER_CHROOT_ENV="NOABER_RELAY_BIN=/repo/target/debug/noaber-relay RUST_LOG=warn RUST_BACKTRACE=0"
started=$SECONDS
set +e
timeout 1200 bash "$ROOT/scripts/swift-env.sh" run \
  swift test --package-path /repo/ios/NoaberKit --scratch-path /repo/.cache/swift-build \
  >"$OUT/output.txt" 2>&1
test_status=$?
set -e
echo "swift: swift test finished in $((SECONDS - started)) s (exit $test_status); log: target/bindings/swift/output.txt" >&2

# One line per test case: "Test Case 'NoaberKitTests.testX' passed (0.1 seconds)" (Linux;
# macOS writes "-[NoaberKitTests testX]").
passed=$(grep -cE "^Test Case '.*' passed" "$OUT/output.txt" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$OUT/output.txt" || true)
grep -E "^Test Case '.*' failed|error:|: XCTAssert|: failed" "$OUT/output.txt" | head -n 40 >&2 || true
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  tail -n 40 "$OUT/output.txt" >&2
  failed=1 # the package did not build or the runner crashed
elif [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  tail -n 40 "$OUT/output.txt" >&2
  failed=1 # a crash after some tests passed
fi

# The app: syntax only (no SwiftUI on Linux).
mapfile -t app_sources < <(cd "$ROOT" && find ios/NoaberApp -name '*.swift' | sort)
if [ "${#app_sources[@]}" -eq 0 ]; then
  echo "swift: no app sources under ios/NoaberApp" >&2
  failed=$((failed + 1))
elif ! bash "$ROOT/scripts/swift-env.sh" run swiftc -parse "${app_sources[@]}" >"$OUT/app-parse.txt" 2>&1; then
  cat "$OUT/app-parse.txt" >&2
  echo "swift: an app source does not parse" >&2
  failed=$((failed + 1))
else
  echo "swift: ${#app_sources[@]} app sources parse (swiftc -parse)" >&2
fi

echo "swift: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
