#!/usr/bin/env bash
# Generates the Android Kotlin bindings (`nl.noaber.ffi`, `android = true`) from a built
# libnoaber_ffi into OUT_DIR:
#
#   android/scripts/generate-bindings.sh LIB OUT_DIR
#
# LIB may be the library of any target (an Android ABI's or the host's): library mode reads the
# exported API from the library's metadata, which is the same for every target. Called by the
# `:noaber` module's `generateUniffiBindings` Gradle task and by build-jni-libs.sh; it needs
# cargo (it builds the workspace's pinned uniffi-bindgen, package `noaber-uniffi-bindgen`).
# Generated code is build output: OUT_DIR is replaced, never committed.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 LIB OUT_DIR" >&2
  exit 2
fi
test -f "$1" || { echo "generate-bindings: no library at $1 (run android/scripts/build-jni-libs.sh)" >&2; exit 1; }
# Absolute paths without realpath (older macOS lacks it): cargo runs from the workspace root.
lib="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
mkdir -p "$2"
out="$(cd "$2" && pwd)"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
config="$root/android/noaber/uniffi-android.toml"

# Built once into the workspace's target/ (debug, as scripts/test-bindings.sh builds it; the
# first build compiles uniffi's generators: a few minutes).
(cd "$root" && cargo build -p noaber-uniffi-bindgen --features cli --locked --quiet)
rm -rf "$out"
mkdir -p "$out"
"$root/target/debug/uniffi-bindgen" generate --no-format --config "$config" \
  -l kotlin -o "$out" "$lib" >/dev/null
gen="$out/nl/noaber/ffi/noaber_ffi.kt"
test -f "$gen" || { echo "generate-bindings: uniffi-bindgen wrote no $gen" >&2; exit 1; }
# The Android configuration must have been applied; a config file uniffi does not understand is
# only warned about, and would silently give JVM bindings.
grep -q 'android.system.SystemCleaner' "$gen" \
  || { echo "generate-bindings: $gen was generated without android = true" >&2; exit 1; }
