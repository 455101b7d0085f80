#!/usr/bin/env bash
# vkslm on 64-bit Arm, emulated: a cross build with Debian's gcc-aarch64-linux-gnu and the arm64 multiarch
# packages (Vulkan loader, Mesa's lavapipe, the validation layer, the libraries vkslm links), run by qemu
# user mode on arm64 lavapipe (4-lane subgroups there). binfmt_misc may not be mounted, so every arm64
# program is started through qemu-aarch64-static explicitly (-L: the arm64 sysroot, / under multiarch).
#
# Usage: scripts/aarch64.sh deps          installs what is missing (apt-get; idempotent)
#        scripts/aarch64.sh build         deps, then cross-builds library, CLI and tests into build-aarch64/
#        scripts/aarch64.sh run ARGS...   runs build-aarch64/vkslm ARGS... under qemu on arm64 lavapipe
#        scripts/aarch64.sh test          deps, build, then CI's arm64 subset (below)
#        scripts/aarch64.sh ctest ARGS... runs ctest in build-aarch64 with the arm64 environment
#
# Debian 12's arm64 lavapipe (Mesa 22.3.6, LLVM 15) aborts compiling any shader that converts between f16 and
# f32 ("LLVM ERROR: Cannot select: v4f32 = fp_extend v4i16"). vkslm's driver quirk lavapipe-aarch64-f16
# (engine/vk/quirks.c, docs/devices.md) applies there: the kernels convert f16 in integer and f32 arithmetic
# (shaders/half.glsl), without fp16 arithmetic or 16-bit storage. `vkslm devices` below shows it applied.
#
# The subset (emulation runs the suites 8-49x slower than natively, so CI cannot afford them all), with the
# Khronos validation layer on (any message fails):
#   1. test_gpu_generate on one model's references (VKSLM_TEST_REFS, default stories260K), F16 KV cache:
#      llama.cpp's prompt tokens, the exact logits and its greedy tokens, the files x86-64 is checked against.
#      The greedy tokens must all be arm64's top-1 (teacher-forced, every step), and the x86-64 build's too
#      (build/, at the same subgroup size): then both generate the reference's tokens.
#   2. greedy `vkslm run` (16 tokens, F16 KV cache) on stories260K and the random-weight Q4_0 model: the
#      same tokens as the x86-64 build's.
#   3. the `kernel` label in quick mode (VKSLM_TEST_QUICK=1) but its slowest part: test_gpu_ops (every op
#      against engine/cpu on the default device, which is the soft-f16 one here, with fp16 and 8/16-bit storage
#      off, split by 1 MiB and 256 KiB storage ranges, the mat-vec's rows per invocation, the fused gated down
#      product, the argument refusals) and test_gpu_half_ops (the f16 conversions bit for bit on all 65536
#      patterns). Left out: the mat-vec bit-identity test ("bit-identical", VKSLM_TEST_SKIP) and its _sg4/_sg16
#      repeats, which alone take minutes under emulation (x86-64 runs them at every subgroup size), and
#      test_gpu_ops_soft_f16, which forces the quirk that applies here anyway.
#   4. the CPU suites of the tokenizers (llama.cpp's test cases of every vocabulary), UTF-8 and the GGUF reader
#      (char is unsigned on arm64). The sampler and chat-template suites pass there too but take 1-2 minutes
#      each under emulation, the grammar suite more than 6.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dir=build-aarch64
sysroot=${VKSLM_AARCH64_SYSROOT:-/}
qemu=/usr/bin/qemu-aarch64-static
testdata=${VKSLM_TESTDATA:-$root/../shared/testdata}
refs_model=${VKSLM_TEST_REFS:-stories260K}
icd_dir=/usr/share/vulkan/icd.d.aarch64

deps() {
  local pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static cmake make pkg-config glslang-tools
              spirv-tools libvulkan-dev:arm64 mesa-vulkan-drivers:arm64 vulkan-validationlayers:arm64
              libstb-dev:arm64 libcunit1-dev:arm64 libpcre2-dev:arm64 libmicrohttpd-dev:arm64 libcjson-dev:arm64)
  local missing=() p sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # the arm64 packages come from the same Debian mirror as the host's (multiarch)
    dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # The arm64 Mesa package puts its ICD files (*.aarch64.json) beside the host's in /usr/share/vulkan/icd.d,
  # where the x86-64 loader tries them, fails to load the arm64 drivers and says so through the debug
  # messenger: every validated x86-64 test would fail. They are diverted (dpkg-divert, so upgrades follow)
  # to a folder only the arm64 runs read (VK_ICD_FILENAMES).
  local f
  for f in $(dpkg -L mesa-vulkan-drivers:arm64 | grep '^/usr/share/vulkan/icd\.d/.*\.json$'); do
    if [ "$(dpkg-divert --truename "$f")" = "$f" ]; then
      $sudo mkdir -p "$icd_dir"
      $sudo dpkg-divert --quiet --package vkslm-aarch64 --add --rename --divert "$icd_dir/${f##*/}" "$f"
    fi
  done
}

configure() {
  cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
        -DVKSLM_AARCH64_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=Release >/dev/null
}

# the arm64 Vulkan loader must load the arm64 lavapipe (the x86-64 ICD beside it cannot be loaded)
arm64_env() {
  export VK_ICD_FILENAMES=$icd_dir/lvp_icd.aarch64.json
  export VK_DRIVER_FILES=$VK_ICD_FILENAMES
  export VKSLM_TESTDATA=$testdata
}

run_arm64() { arm64_env; "$qemu" -L "$sysroot" "$root/$dir/vkslm" "$@"; }

# "teacher-forced top-1 N/M" of every reference in a test_gpu_generate log, one line each
forced() { grep -o '[^ :]*  *nmse [^ ]*  *teacher-forced top-1 [0-9]*/[0-9]*' "$1" | awk '{print $1, $NF}'; }

# the greedy tokens of `vkslm run` (the "tokens" array of --json) on model $2, by the CLI command $1
# (nothing when it fails or writes a validation message: those are shown)
tokens() {
  local out err=$root/$dir/run.err
  out=$($1 run -m "$2" -p "Once upon a time" -n 16 --temp 0 --json 2>"$err") && ! grep -q "validation" "$err" ||
    { cat "$err" >&2; return 1; }
  printf '%s\n' "$out" | sed -n 's/.*"tokens": *\(\[[^]]*\]\).*/\1/p'
}

subset() {
  local t0 failed=0 log=$root/$dir/aarch64-generate.log m a x
  arm64_env
  export VKSLM_VALIDATE=1 CI=${CI:-1}
  # lavapipe's pipeline cache is named alike on both architectures: keep arm64's apart (and between runs)
  export VKSLM_CACHE_DIR=$root/$dir/pipeline-cache
  echo "arm64 device:"
  run_arm64 devices | sed 's/^/  /'
  run_arm64 devices | grep -q "driver quirks applied: .*lavapipe-aarch64-f16" ||
    { echo "FAIL: quirk lavapipe-aarch64-f16 not applied on arm64 lavapipe" >&2; failed=1; }
  t0=$(date +%s)
  VKSLM_TEST_REFS=$refs_model ctest --test-dir "$dir" -R '^test_gpu_generate$' -V > "$log" 2>&1 ||
    { cat "$log"; failed=1; }
  echo "test_gpu_generate on $refs_model (arm64): $(( $(date +%s) - t0 )) s"
  if [ ! -x build/tests/test_gpu_generate ] || [ ! -x build/vkslm ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j "$(nproc)" --target test_gpu_generate vkslm
  fi
  (unset VK_ICD_FILENAMES VK_DRIVER_FILES VKSLM_CACHE_DIR
   LP_NATIVE_VECTOR_WIDTH=128 VKSLM_TEST_REFS=$refs_model build/tests/test_gpu_generate) \
    > "$log.x86-64" 2>&1 || { cat "$log.x86-64"; failed=1; }
  echo "teacher-forced greedy tokens (reference, arm64 top-1 / x86-64 top-1):"
  paste <(forced "$log") <(forced "$log.x86-64") | sed 's/^/  /'
  if [ -z "$(forced "$log")" ] || [ "$(forced "$log")" != "$(forced "$log.x86-64")" ] ||
     forced "$log" | awk '{split($2, a, "/"); if (a[1] != a[2]) bad = 1} END {exit !bad}'; then
    echo "FAIL: arm64 does not pick every reference greedy token, or differs from x86-64" >&2
    failed=1
  fi
  t0=$(date +%s)
  for m in "$testdata/models/stories260K.gguf" "$testdata/models/quant/tiny-llama-256-random-Q4_0.gguf"; do
    a=$(tokens run_arm64 "$m") || true
    x=$(unset VK_ICD_FILENAMES VK_DRIVER_FILES VKSLM_CACHE_DIR; LP_NATIVE_VECTOR_WIDTH=128 tokens build/vkslm "$m") || true
    echo "vkslm run ${m##*/}: arm64 $a, x86-64 $x"
    if [ -z "$a" ] || [ "$a" != "$x" ]; then
      echo "FAIL: greedy tokens differ between arm64 and x86-64 (or a run failed)" >&2
      failed=1
    fi
  done
  echo "vkslm run (arm64 and x86-64): $(( $(date +%s) - t0 )) s"
  t0=$(date +%s)
  VKSLM_TEST_QUICK=1 VKSLM_TEST_SKIP=bit-identical ctest --test-dir "$dir" -L kernel -E '_(sg[0-9]+|soft_f16)$' \
    --output-on-failure || failed=1
  echo "kernel label (quick, arm64): $(( $(date +%s) - t0 )) s"
  t0=$(date +%s)
  ctest --test-dir "$dir" -R '^test_(tok_props|tok_vocab|utf8|gguf|gguf_malformed|vocab_only)$' --output-on-failure \
    || failed=1
  echo "CPU suites (arm64): $(( $(date +%s) - t0 )) s"
  return $failed
}

cmd=${1:-}
shift || true
case "$cmd" in
  deps) deps ;;
  build)
    deps
    configure
    cmake --build "$dir" -j "$(nproc)" ;;
  run)
    [ -x "$dir/vkslm" ] || { echo "no $dir/vkslm: run scripts/aarch64.sh build first" >&2; exit 1; }
    run_arm64 "$@" ;;
  test)
    [ $# -eq 0 ] || { echo "scripts/aarch64.sh test takes no arguments" >&2; exit 2; }
    deps
    configure
    cmake --build "$dir" -j "$(nproc)"
    subset ;;
  ctest)
    arm64_env
    ctest --test-dir "$dir" "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
