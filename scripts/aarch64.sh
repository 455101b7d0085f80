#!/usr/bin/env bash
# vkslm on 64-bit Arm, emulated: a cross build with Debian's gcc-aarch64-linux-gnu and the arm64 multiarch
# packages (Vulkan loader, Mesa's lavapipe, the validation layer, the libraries vkslm links), run by qemu
# user mode on arm64 lavapipe (4-lane subgroups there). binfmt_misc may not be mounted, so every arm64
# program is started through qemu-aarch64-static explicitly (-L: the arm64 sysroot, / under multiarch).
#
# Usage: scripts/aarch64.sh deps          installs what is missing (apt-get; idempotent)
#        scripts/aarch64.sh build         deps, then cross-builds library, CLI and tests into build-aarch64/
#        scripts/aarch64.sh run ARGS...   runs build-aarch64/vkslm ARGS... under qemu on arm64 lavapipe
#        scripts/aarch64.sh test          deps, builds what the subset needs, runs CI's arm64 subset (below)
#        scripts/aarch64.sh ctest ARGS... runs ctest in build-aarch64 with the arm64 environment
#
# The subset (emulation runs the suites 8-49x slower than natively, so CI cannot afford them all), with the
# Khronos validation layer on (any message fails):
#   1. the `kernel` label (every op against the CPU reference) in quick mode (VKSLM_TEST_QUICK=1);
#   2. test_gpu_generate on one model's references (VKSLM_TEST_REFS, default stories260K): llama.cpp's
#      prompt tokens, exact logits and teacher-forced greedy tokens, the same files x86-64 is checked against;
#   3. `vkslm run` greedy on that model and on a Q4_0 model: the generated token ids must equal those of the
#      x86-64 build (build/vkslm, built if absent) at the same subgroup size.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dir=build-aarch64
sysroot=${VKSLM_AARCH64_SYSROOT:-/}
qemu=/usr/bin/qemu-aarch64-static
testdata=${VKSLM_TESTDATA:-$root/../shared/testdata}
refs_model=${VKSLM_TEST_REFS:-stories260K}

deps() {
  local pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static cmake make pkg-config glslang-tools
              spirv-tools libvulkan-dev:arm64 mesa-vulkan-drivers:arm64 vulkan-validationlayers:arm64
              libstb-dev:arm64 libcunit1-dev:arm64 libpcre2-dev:arm64 libmicrohttpd-dev:arm64 libcjson-dev:arm64)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # the arm64 packages come from the same Debian mirror as the host's (multiarch)
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure() {
  cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
        -DVKSLM_AARCH64_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=Release >/dev/null
}

# the arm64 Vulkan loader must load the arm64 lavapipe (the x86-64 ICD beside it cannot be loaded)
arm64_env() {
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.aarch64.json
  export VK_DRIVER_FILES=$VK_ICD_FILENAMES
  export VKSLM_TESTDATA=$testdata
}

run_arm64() { arm64_env; "$qemu" -L "$sysroot" "$root/$dir/vkslm" "$@"; }

# the generated token ids of a greedy run, one line ("432 383 ..."), from `vkslm run --json`
greedy_tokens() {
  "$@" -p "Once upon a time" -n 24 --temp 0 --json 2>/dev/null |
    python3 -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["tokens"])))'
}

same_tokens() {
  local model=$1 host arm
  # x86-64 lavapipe at arm64's subgroup size (4 lanes: 128-bit vectors), so reductions split alike
  host=$(LP_NATIVE_VECTOR_WIDTH=128 greedy_tokens "$root/build/vkslm" run -m "$testdata/models/$model")
  arm=$(greedy_tokens run_arm64 run -m "$testdata/models/$model")
  echo "  $model: x86-64 [$host]"
  echo "  $model: arm64  [$arm]"
  if [ -z "$host" ] || [ "$host" != "$arm" ]; then
    echo "FAIL: arm64 greedy tokens differ from x86-64's on $model" >&2
    return 1
  fi
}

subset() {
  local t0 failed=0
  arm64_env
  export VKSLM_VALIDATE=1 CI=${CI:-1}
  echo "arm64 device:"
  run_arm64 devices | sed 's/^/  /'
  t0=$(date +%s)
  VKSLM_TEST_QUICK=1 ctest --test-dir "$dir" -L kernel --output-on-failure || failed=1
  echo "kernel label (quick): $(( $(date +%s) - t0 )) s"
  t0=$(date +%s)
  VKSLM_TEST_REFS=$refs_model ctest --test-dir "$dir" -R '^test_gpu_generate$' --output-on-failure || failed=1
  echo "test_gpu_generate on $refs_model: $(( $(date +%s) - t0 )) s"
  t0=$(date +%s)
  if [ ! -x build/vkslm ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j "$(nproc)" --target vkslm
  fi
  same_tokens "$refs_model.gguf" || failed=1
  same_tokens quant/tiny-llama-256-random-Q4_0.gguf || failed=1
  echo "greedy tokens against x86-64: $(( $(date +%s) - t0 )) s"
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
    deps
    configure
    cmake --build "$dir" -j "$(nproc)" --target vkslm test_gpu_ops test_gpu_generate
    subset ;;
  ctest)
    arm64_env
    ctest --test-dir "$dir" "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
