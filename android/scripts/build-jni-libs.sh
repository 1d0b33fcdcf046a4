#!/usr/bin/env bash
# Builds libnoaber_ffi for the Android ABIs the app ships and generates the Android Kotlin
# bindings:
#
#   ANDROID_NDK_HOME=/path/to/ndk android/scripts/build-jni-libs.sh
#
# - cargo-ndk (installed with `cargo install cargo-ndk --locked` when missing) cross-compiles
#   `noaber-ffi` with `--profile release-ffi` (opt-level "s", fat LTO, stripped) for
#   arm64-v8a, armeabi-v7a and x86_64 (the emulator), API level $ANDROID_MIN_SDK (default 26,
#   the app's minSdk);
# - each libnoaber_ffi.so is copied to android/noaber/src/main/jniLibs/<abi>/ (ignored by git)
#   and its size printed;
# - the Android bindings are generated into android/noaber/build/generated/uniffi/kotlin, where
#   the `:noaber` module's Gradle task also writes them.
#
# Needs the Rust targets (`rustup target add aarch64-linux-android armv7-linux-androideabi
# x86_64-linux-android`; added here when rustup is present) and an NDK (ANDROID_NDK_HOME).
# A fat-LTO build takes several minutes per ABI. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jni="$root/android/noaber/src/main/jniLibs"
min_sdk=${ANDROID_MIN_SDK:-26}
profile=release-ffi
# ABI name, Rust target triple
abis=(
  "arm64-v8a aarch64-linux-android"
  "armeabi-v7a armv7-linux-androideabi"
  "x86_64 x86_64-linux-android"
)

if [ -z "${ANDROID_NDK_HOME:-}" ] || [ ! -d "${ANDROID_NDK_HOME}" ]; then
  cat >&2 <<MSG
build-jni-libs: ANDROID_NDK_HOME is not set or is not a folder.
Install the NDK (Android Studio > SDK Manager > SDK Tools > NDK (Side by side), or
\`sdkmanager "ndk;28.2.13676358"\`) and point ANDROID_NDK_HOME at it, e.g.
  export ANDROID_NDK_HOME="\$ANDROID_HOME/ndk/28.2.13676358"
MSG
  exit 1
fi

if ! cargo ndk --version >/dev/null 2>&1; then
  echo "build-jni-libs: installing cargo-ndk"
  cargo install cargo-ndk --locked
fi
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed)
  for entry in "${abis[@]}"; do
    triple=${entry#* }
    grep -qx "$triple" <<<"$installed" || rustup target add "$triple"
  done
fi

cd "$root"
targets=()
for entry in "${abis[@]}"; do
  targets+=(-t "${entry%% *}")
done
# cargo-ndk sets the NDK's clang, archiver and sysroot for each target; the libraries are
# copied by hand below so that the custom profile's output folder is read explicitly.
cargo ndk --platform "$min_sdk" "${targets[@]}" build -p noaber-ffi --profile "$profile" --locked

echo
echo "libnoaber_ffi.so per ABI (stripped, --profile $profile):"
for entry in "${abis[@]}"; do
  abi=${entry%% *}
  triple=${entry#* }
  so="$root/target/$triple/$profile/libnoaber_ffi.so"
  test -f "$so" || { echo "build-jni-libs: $so was not built" >&2; exit 1; }
  mkdir -p "$jni/$abi"
  cp "$so" "$jni/$abi/libnoaber_ffi.so"
  bytes=$(stat -c %s "$so" 2>/dev/null || stat -f %z "$so")
  gz=$(gzip -9 -c "$so" | wc -c | tr -d ' ')
  printf '  %-12s %10d bytes (%s MiB), %d bytes gzipped\n' "$abi" "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')" "$gz"
done

"$here/generate-bindings.sh" "$jni/arm64-v8a/libnoaber_ffi.so" \
  "$root/android/noaber/build/generated/uniffi/kotlin"
echo "Android bindings: android/noaber/build/generated/uniffi/kotlin/nl/noaber/ffi/noaber_ffi.kt"
