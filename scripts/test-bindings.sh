#!/usr/bin/env bash
# The binding tests: builds libnoaber_ffi (debug, shared with the workspace build), generates
# Kotlin, Python and Swift into target/bindings/, and runs the Kotlin (JVM), Python and Swift
# (scripts/test-swift.sh: ios/NoaberKit in a Debian trixie chroot) test suites against it and
# a real relay.
#
# Idempotent. On a fresh Debian machine it fetches what it needs and caches it in ignored
# folders: the Kotlin compiler (npm `kotlin-compiler`) in .cache/, JNA from Debian
# (`libjna-java libjna-jni`, needs root as in CI). Prints one line per language,
#   kotlin: N passed, M failed
#   python: N passed, M failed
#   swift: N passed, M failed
# and exits non-zero if any test failed or a suite could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KOTLIN_VERSION=2.4.20
CACHE="$ROOT/.cache"
OUT="$ROOT/target/bindings"
LIB_DIR="$ROOT/target/debug"
LIB="$LIB_DIR/libnoaber_ffi.so"
KOTLIN_HOME="$CACHE/kotlin-compiler-$KOTLIN_VERSION"
JNA_JAR=/usr/share/java/jna.jar

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "bindings: build libnoaber_ffi, the relay and uniffi-bindgen (debug)"
# `--workspace` resolves features exactly as test-all.sh's builds do, so everything but the
# library itself is already built there.
cargo build --workspace --locked --quiet
# Built on its own: the code generators stay out of the workspace build and the library.
cargo build -p noaber-uniffi-bindgen --features cli --locked --quiet
test -f "$LIB" || { echo "bindings: $LIB was not built" >&2; exit 1; }

step "bindings: generate Kotlin, Python and Swift into target/bindings/"
rm -rf "$OUT/gen"
mkdir -p "$OUT/gen" "$OUT/python" "$OUT/kotlin"
"$ROOT/target/debug/uniffi-bindgen" generate --no-format \
  -l kotlin -l python -l swift -o "$OUT/gen" "$LIB" >/dev/null
cp "$OUT/gen/noaber_ffi.py" "$OUT/python/"
ln -sf "$LIB" "$OUT/python/libnoaber_ffi.so"
ls "$OUT/gen"/*.swift >/dev/null

step "bindings: tools (kotlinc $KOTLIN_VERSION, JNA)"
if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
  tar -xzf "$tmp"/kotlin-compiler-*.tgz -C "$tmp"
  mkdir -p "$CACHE"
  rm -rf "$KOTLIN_HOME"
  mv "$tmp/package" "$KOTLIN_HOME"
  rm -rf "$tmp"
fi
if [ ! -f "$JNA_JAR" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q libjna-java libjna-jni >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q libjna-java libjna-jni >/dev/null; }
fi
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
COROUTINES=$(ls "$KOTLIN_HOME"/lib/kotlinx-coroutines-core-jvm*.jar | head -n 1)
STDLIB="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

# Compiles only when the sources or a jar on the classpath that this function made changed
# (kotlinc takes 10–15 s per jar).
compile_kotlin() { # out.jar classpath sources...
  local jar=$1 cp=$2
  shift 2
  local sum entry deps=""
  IFS=: read -r -a entries <<<"$cp"
  for entry in "${entries[@]}"; do
    deps+="$entry $(cat "$entry.sha256" 2>/dev/null || true)"$'\n'
  done
  sum=$(cat "$@" <(echo "$deps") | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ "$(cat "$jar.sha256" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  rm -f "$jar" "$jar.sha256"
  "$KOTLINC" -Werror -cp "$cp" -d "$jar" "$@" 2>&1 | grep -v '^warning: unable to find kotlin-stdlib.jar' || true
  test -f "$jar" || return 1
  echo "$sum" >"$jar.sha256"
}

export NOABER_RELAY_BIN="$ROOT/target/debug/noaber-relay"
export RUST_LOG=warn
# A listener that throws is reported by a panic message (caught, see bindings/src/subscribe.rs);
# a backtrace per such test only buries the results.
export RUST_BACKTRACE=0
results=()
status=0

step "bindings: kotlin (JVM, through android/'s wrapper)"
KT_GEN=$(find "$OUT/gen" -name 'noaber_ffi.kt')
# The Android library's wrapper (plain Kotlin, no android.*) and the app's screen state are
# compiled here against the host bindings; the suite goes through them.
mapfile -t KT_ANDROID < <(find "$ROOT/android/noaber/src/main/kotlin" \
  "$ROOT/android/app/src/main/kotlin/nl/noaber/app/state" -name '*.kt' | LC_ALL=C sort)
# The Android bindings (`android = true`) are generated and checked, not compiled: they need
# the Android SDK (android/README.md).
kotlin_line=""
if "$ROOT/android/scripts/generate-bindings.sh" "$LIB" "$OUT/android" \
  && compile_kotlin "$OUT/kotlin/bindings.jar" "$JNA_JAR:$COROUTINES" "$KT_GEN" \
  && compile_kotlin "$OUT/kotlin/noaber-android.jar" "$JNA_JAR:$COROUTINES:$OUT/kotlin/bindings.jar" \
    "${KT_ANDROID[@]}" \
  && compile_kotlin "$OUT/kotlin/tests.jar" \
    "$JNA_JAR:$COROUTINES:$OUT/kotlin/bindings.jar:$OUT/kotlin/noaber-android.jar" \
    "$ROOT"/tests/bindings/kotlin/*.kt; then
  set +e
  java -Djna.library.path="$LIB_DIR" \
    -cp "$STDLIB:$COROUTINES:$JNA_JAR:$OUT/kotlin/bindings.jar:$OUT/kotlin/noaber-android.jar:$OUT/kotlin/tests.jar" \
    BindingTestsKt 2>&1 | tee "$OUT/kotlin/output.txt"
  set -e
  kotlin_line=$(grep -E '^kotlin: [0-9]+ passed, [0-9]+ failed$' "$OUT/kotlin/output.txt" | tail -n 1 || true)
else
  echo "kotlin: generating the Android bindings, or compiling the bindings, the wrapper or the tests failed" >&2
fi
[ -n "$kotlin_line" ] || kotlin_line="kotlin: 0 passed, 1 failed"
results+=("$kotlin_line")

step "bindings: python"
set +e
PYTHONPATH="$OUT/python" python3 "$ROOT/tests/bindings/python/test_bindings.py" 2>&1 \
  | tee "$OUT/python/output.txt"
set -e
python_line=$(grep -E '^python: [0-9]+ passed, [0-9]+ failed$' "$OUT/python/output.txt" | tail -n 1 || true)
[ -n "$python_line" ] || python_line="python: 0 passed, 1 failed"
results+=("$python_line")

step "bindings: swift (XCTest in a Debian trixie chroot, scripts/test-swift.sh)"
set +e
bash "$ROOT/scripts/test-swift.sh" 2>&1 | tee "$OUT/swift-output.txt"
set -e
swift_line=$(grep -E '^swift: [0-9]+ passed, [0-9]+ failed$' "$OUT/swift-output.txt" | tail -n 1 || true)
[ -n "$swift_line" ] || swift_line="swift: 0 passed, 1 failed"
results+=("$swift_line")

step "bindings: results ($((SECONDS - started)) s)"
for line in "${results[@]}"; do
  echo "$line"
  case "$line" in
    *": 0 passed, "*) status=1 ;;
    *" 0 failed") ;;
    *) status=1 ;;
  esac
done
exit $status
