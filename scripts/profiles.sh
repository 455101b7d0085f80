#!/usr/bin/env bash
# Every device profile (vkslm devices --profiles) on lavapipe: the `kernel` ctest label in quick mode, and greedy
# `vkslm run` on stories260K and a Q4_0 model, all under VKSLM_DEVICE_PROFILE with validation on. Every profile
# must pass the kernels and give the tokens that the device gives without a profile; any validation message
# fails. lavapipe's subgroup size is fixed per process by LP_NATIVE_VECTOR_WIDTH, so each profile runs at the
# lavapipe size nearest its own (4, 8 or 16 lanes: 128, 256 or 512 bits). Then the same for every entry of the
# driver quirk table (vkslm devices --quirks) forced on lavapipe with VKSLM_FORCE_QUIRK.
#   scripts/profiles.sh [--build DIR] [--testdata DIR] [--only NAME[,NAME]]   (profile or quirk names)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
testdata=${VKSLM_TESTDATA:-../shared/testdata}
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --testdata) testdata=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profiles.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
vkslm=$build/vkslm
models=("$testdata/models/stories260K.gguf" "$testdata/models/quant/tiny-llama-256-random-Q4_0.gguf")
for f in "$vkslm" "${models[@]}"; do
  if [ ! -e "$f" ]; then echo "profiles.sh: missing $f" >&2; exit 1; fi
done
export VKSLM_VALIDATE=1 VKSLM_TEST_QUICK=1 VKSLM_TESTDATA=$testdata
unset VKSLM_DEVICE_PROFILE VKSLM_FORCE_QUIRK

# the greedy tokens of one model: the "tokens" array of `vkslm run --json`; stderr must hold no validation message
tokens() {
  local err out
  err=$(mktemp)
  out=$("$vkslm" run -m "$1" -p "Once upon a time" -n 16 --temp 0 --json 2>"$err") || { cat "$err" >&2; rm -f "$err"; return 1; }
  if grep -q "validation" "$err"; then
    echo "profiles.sh: validation messages running $1:" >&2; cat "$err" >&2; rm -f "$err"; return 1
  fi
  rm -f "$err"
  printf '%s\n' "$out" | sed -n 's/.*"tokens": *\(\[[^]]*\]\).*/\1/p'
}

declare -A want
for m in "${models[@]}"; do
  want[$m]=$(tokens "$m")
  if [ -z "${want[$m]}" ]; then echo "profiles.sh: no tokens from $m" >&2; exit 1; fi
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
# the kernel suites and the greedy tokens under the environment the caller exported; $1 names the run
check() {
  local t0 m got
  t0=$(date +%s)
  # the sg4/sg16 entries repeat the suite at fixed widths: here the run's width stands for them; soft_f16
  # forces one quirk, which the quirk runs below cover
  if ! ctest --test-dir "$build" -L kernel -E '_(sg[0-9]+|soft_f16)$' --output-on-failure >"$logs/$1.log" 2>&1; then
    echo "$1: kernel suites FAILED"; cat "$logs/$1.log"; failed=1
  fi
  for m in "${models[@]}"; do
    got=$(tokens "$m") || { echo "$1: vkslm run FAILED on $m"; failed=1; continue; }
    if [ "$got" != "${want[$m]}" ]; then
      echo "$1: $(basename "$m") gave $got, without it ${want[$m]}"; failed=1
    fi
  done
  echo "$1: $(( $(date +%s) - t0 )) s"
}

# one line per profile in the JSON listing: its name and its default subgroup size
mapfile -t rows < <("$vkslm" devices --profiles --json | sed -n 's/.*"name": "\([^"]*\)".*"subgroup_size": \([0-9]*\),.*/\1 \2/p')
if [ "${#rows[@]}" -lt 8 ]; then echo "profiles.sh: vkslm devices --profiles --json listed ${#rows[@]} profiles" >&2; exit 1; fi
for row in "${rows[@]}"; do
  name=${row% *}; sg=${row#* }
  if [ -n "$only" ] && [[ "$only" != *",$name,"* ]]; then continue; fi
  if [ "$sg" -le 4 ]; then width=128; elif [ "$sg" -le 8 ]; then width=256; else width=512; fi
  VKSLM_DEVICE_PROFILE=$name LP_NATIVE_VECTOR_WIDTH=$width check "profile $name (subgroup $sg, lavapipe at $width bits)"
done
mapfile -t quirks < <("$vkslm" devices --quirks --json | sed -n 's/.*"name": "\([^"]*\)".*/\1/p')
if [ "${#quirks[@]}" -lt 1 ]; then echo "profiles.sh: vkslm devices --quirks --json listed no entry" >&2; exit 1; fi
for name in "${quirks[@]}"; do
  if [ -n "$only" ] && [[ "$only" != *",$name,"* ]]; then continue; fi
  VKSLM_FORCE_QUIRK=$name check "quirk $name (forced)"
done
[ "$failed" = 0 ] && echo "profiles.sh: every profile and quirk passed" || { echo "profiles.sh: FAILED" >&2; exit 1; }
