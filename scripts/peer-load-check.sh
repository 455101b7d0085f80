#!/usr/bin/env bash
# llama.cpp loads and runs every `vkslm mkmodel` file: for each architecture and each file type mkmodel
# writes (both read from `vkslm mkmodel --help`), a small model (2 layers, width 256; gemma and gemma2 with
# a head width other than width/heads, so attention.key_length is exercised) goes through the peer's
# `llama-bench -p 8 -n 4` (one repetition, its CPU backend: this checks loading, not speed).
# The peer is the llama.cpp release that ../shared/tools/peer-llama.sh installs (about 400 MB from npm and a
# minute, the first time). Exit status 1 when llama.cpp refuses a file, or, under CI, when the peer cannot be
# installed; outside CI an uninstallable peer is a skip (exit 0).
#   scripts/peer-load-check.sh [BUILD_DIR]        (default: build)
#   VKSLM_PEER_SCRIPT=PATH overrides the installer.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
vkslm=$build/vkslm
peer=${VKSLM_PEER_SCRIPT:-../shared/tools/peer-llama.sh}
[ -x "$vkslm" ] || { echo "peer-load-check: $vkslm is not built" >&2; exit 1; }

if ! bins=$("$peer" | tail -n 1) || [ ! -x "$bins/llama-bench" ]; then
  if [ -n "${CI:-}" ]; then
    echo "peer-load-check: FAIL: the peer (llama.cpp) could not be installed by $peer" >&2
    exit 1
  fi
  echo "peer-load-check: SKIP: the peer (llama.cpp) could not be installed by $peer"
  exit 0
fi

help=$("$vkslm" mkmodel --help 2>&1 || true)
archs=$(sed -n 's/^ *--arch ARCH *//p' <<<"$help" | sed 's/ (.*//; s/,//g; s/ or / /')
types=$(sed -n 's/^ *--type T *//p' <<<"$help" | tr -d ',')
[ -n "$archs" ] && [ -n "$types" ] || { echo "peer-load-check: cannot read archs/types from mkmodel --help" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vkslm-peer-load.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "peer: $bins/llama-bench"
echo "archs: $archs"
echo "types: $types"
failed=()
n=0
header=0
for arch in $archs; do
  head_dim=()
  case $arch in gemma | gemma2) head_dim=(--head-dim 32) ;; esac
  for type in $types; do
    f=$tmp/$arch-$type.gguf
    if ! "$vkslm" mkmodel --arch "$arch" --layers 2 --dim 256 --ffn 512 --heads 4 --kv-heads 2 --vocab 512 \
        "${head_dim[@]}" --type "$type" --ctx 512 --threads 2 -o "$f" >"$tmp/mk.log" 2>&1; then
      failed+=("$arch $type (mkmodel: $(tail -n 1 "$tmp/mk.log"))")
      continue
    fi
    n=$((n + 1))
    if "$bins/llama-bench" -m "$f" -p 8 -n 4 -r 1 -t 2 -ngl 0 -dev none -o md >"$tmp/out" 2>"$tmp/err" &&
        [ "$(grep -c -E '\| +(pp8|tg4) +\|' "$tmp/out")" = 2 ]; then
      if [ $header = 0 ]; then
        grep -E '^\| (model|---)' "$tmp/out" | head -n 2 | sed 's/^/  /'
        header=1
      fi
      grep -E '\| +(pp8|tg4) +\|' "$tmp/out" | sed "s/^/  /; s/$/  $arch $type/"
    else
      failed+=("$arch $type: $(grep -i -m 1 'error' "$tmp/err" || tail -n 1 "$tmp/err")")
    fi
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "peer-load-check: FAIL: llama.cpp refused ${#failed[@]} of $n files:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "peer-load-check: OK: llama.cpp loaded and ran all $n mkmodel files ($(wc -w <<<"$archs") architectures x $(wc -w <<<"$types") types)"
