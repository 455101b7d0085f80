#!/usr/bin/env bash
# ctest test_gpu_jni: the Java binding streams greedy tokens from stories260K and must give the ids that the C API
# gives (`vkslm run --json`, vkslm_generate), loaded from a path and from a descriptor range; bad input throws.
# Usage: run.sh VKSLM JAVA CLASSPATH LIBVKSLM_JNI TESTDATA
# JAVA "none": no JDK was found at configure time. A missing JDK or model is a skip (77), under CI a failure.
# LD_PRELOAD (CI's sanitizer pass preloads libasan) arrives as VKSLM_CLI_PRELOAD and goes to the sanitized CLI
# alone, never to the JVM, which runs a glue built without sanitizers (bindings/java/CMakeLists.txt).
set -euo pipefail
vkslm=$1 java=$2 classpath=$3 lib=$4 testdata=${VKSLM_TESTDATA:-$5}
model="$testdata/models/stories260K.gguf"
missing=""
[ "$java" != none ] && [ -x "$java" ] || missing="a JDK (openjdk-17-jdk-headless: scripts/install-deps.sh, then re-run cmake)"
[ -f "$model" ] || missing="${missing:+$missing, }$model"
if [ -n "$missing" ]; then
  echo "test_gpu_jni: missing $missing" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  exit 77
fi
prompt="Once upon a time" n=24

ref=$(env LD_PRELOAD="${VKSLM_CLI_PRELOAD:-}" "$vkslm" run -m "$model" -p "$prompt" -n $n --json)
ids=$(printf '%s\n' "$ref" | sed -n 's/.*"tokens": \[\([0-9, ]*\)\].*/\1/p' | tr -d ' ')
if [ -z "$ids" ]; then
  echo "test_gpu_jni: no token ids in the output of vkslm run --json: $ref" >&2
  exit 1
fi
echo "C API (vkslm run --json): $ids"

# the model's bytes between other bytes, as an Android asset sits inside its APK
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
head -c 1234 /dev/zero | tr '\0' j >"$tmp"
cat "$model" >>"$tmp"
head -c 77 /dev/zero | tr '\0' t >>"$tmp"
length=$(stat -c %s "$model")
exec 3<"$tmp" # the JVM inherits descriptor 3
env -u LD_PRELOAD "$java" -Ddev.vkslm.library="$lib" -cp "$classpath" dev.vkslm.test.JniTest \
  "$model" 3 1234 "$length" "$prompt" $n "$ids"
