#!/usr/bin/env bash
# Fails when a library exports a symbol without the vkslm_ prefix: for a static archive every defined global
# symbol (a static link cannot hide any), for a shared object its dynamic symbol table. Symbols a sanitizer
# build's instrumentation adds (__odr_asan.*, __asan_*, __ubsan_*, ...) are not ours and are not counted.
#   scripts/check-symbols.sh LIB...        e.g. build/libvkslm.a build/libvkslm.so
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/check-symbols.sh LIB..." >&2; exit 2; }
status=0
for lib in "$@"; do
  case $lib in
    *.a) syms=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u) ;;
    *) syms=$(nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u) ;;
  esac
  [ -n "$syms" ] || { echo "check-symbols: $lib: no exported symbols found" >&2; status=1; continue; }
  syms=$(grep -v -E '^__(odr_asan|asan|ubsan|sanitizer|sancov|lsan|tsan|msan)' <<<"$syms" || true)
  bad=$(grep -v '^vkslm_' <<<"$syms" || true)
  if [ -n "$bad" ]; then
    echo "check-symbols: FAIL: $lib exports $(wc -l <<<"$bad") symbols without the vkslm_ prefix:" >&2
    head -n 40 <<<"$bad" | sed 's/^/  /' >&2
    status=1
  else
    echo "check-symbols: $lib: all $(wc -l <<<"$syms") exported symbols start with vkslm_"
  fi
done
exit $status
