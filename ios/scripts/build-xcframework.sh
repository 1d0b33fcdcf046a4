#!/usr/bin/env bash
# Builds libnoaber_ffi for iOS (device + simulators) and packages it as the XCFramework that
# ios/NoaberKit/Package.swift's binary target expects:
#
#   ios/NoaberKit/Frameworks/noaber_ffiFFI.xcframework   static library + header + modulemap
#   ios/NoaberKit/Sources/NoaberFFI/noaber_ffi.swift      the generated Swift bindings
#
# macOS with Xcode only (xcodebuild, lipo). Uses the `release-ffi` profile (opt-level "s",
# fat LTO, stripped): expect several minutes per target. Idempotent: run it again after
# changing the Rust code. Usage: ios/scripts/build-xcframework.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if [ "$(uname -s)" != "Darwin" ] || ! command -v xcodebuild >/dev/null; then
  echo "build-xcframework: needs macOS with Xcode (xcodebuild, lipo); on Linux the tests use" >&2
  echo "the host library instead: bash scripts/test-swift.sh (see ios/README.md)" >&2
  exit 1
fi

PROFILE=release-ffi
[ "${1:-}" = "--debug" ] && PROFILE=debug
PROFILE_DIR=$PROFILE
[ "$PROFILE" = debug ] && PROFILE_DIR=debug

DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
PKG="$ROOT/ios/NoaberKit"
WORK="$ROOT/target/ios"
XCF="$PKG/Frameworks/noaber_ffiFFI.xcframework"

rustup target add "$DEVICE" "${SIMULATORS[@]}"

for target in "$DEVICE" "${SIMULATORS[@]}"; do
  echo "== cargo build -p noaber-ffi --profile $PROFILE --target $target"
  cargo build -p noaber-ffi --locked --profile "$PROFILE" --target "$target"
done

echo "== generate the Swift bindings"
# Library mode reads the API (and bindings/uniffi.toml) from the built library; the host's
# generator reads a static library of any target.
cargo build -p noaber-uniffi-bindgen --features cli --locked
rm -rf "$WORK/gen" "$WORK/headers" "$WORK/sim"
mkdir -p "$WORK/gen" "$WORK/headers" "$WORK/sim"
"$ROOT/target/debug/uniffi-bindgen" generate --no-format -l swift -o "$WORK/gen" \
  "$ROOT/target/$DEVICE/$PROFILE_DIR/libnoaber_ffi.a"
cp "$WORK/gen/noaber_ffiFFI.h" "$WORK/headers/"
# Xcode looks for `module.modulemap` in a framework's Headers.
cp "$WORK/gen/noaber_ffiFFI.modulemap" "$WORK/headers/module.modulemap"
cp "$WORK/gen/noaber_ffi.swift" "$PKG/Sources/NoaberFFI/noaber_ffi.swift"

echo "== one simulator library for both architectures (lipo)"
lipo -create \
  "$ROOT/target/aarch64-apple-ios-sim/$PROFILE_DIR/libnoaber_ffi.a" \
  "$ROOT/target/x86_64-apple-ios/$PROFILE_DIR/libnoaber_ffi.a" \
  -output "$WORK/sim/libnoaber_ffi.a"

echo "== xcodebuild -create-xcframework"
rm -rf "$XCF"
mkdir -p "$(dirname "$XCF")"
xcodebuild -create-xcframework \
  -library "$ROOT/target/$DEVICE/$PROFILE_DIR/libnoaber_ffi.a" -headers "$WORK/headers" \
  -library "$WORK/sim/libnoaber_ffi.a" -headers "$WORK/headers" \
  -output "$XCF"

echo "built $XCF"
du -sh "$XCF"/*/libnoaber_ffi.a
