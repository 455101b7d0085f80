#!/usr/bin/env bash
# Fails when a library exports a symbol without the vkslm_ prefix: for a static archive every defined global
# symbol (a static link cannot hide any), for a shared object its dynamic symbol table. Symbols a sanitizer
# build's instrumentation adds (__odr_asan.*, __asan_*, __ubsan_*, ...) are not ours and are not counted.
# With --headers DIR, also fails when a function the public headers (DIR/*.h) declare is defined in a given
# library but not exported by a given shared object (its definition did not see the VKSLM_API declaration),
# or when a function declaration there lacks VKSLM_API; declared functions that no library defines yet are
# listed, not failed (the header's contract may run ahead of the code).
#   scripts/check-symbols.sh [--headers DIR] LIB...     e.g. --headers include build/libvkslm.a build/libvkslm.so
set -euo pipefail
headers=""
if [ "${1:-}" = "--headers" ]; then
  headers=${2:?--headers needs a folder}
  shift 2
fi
[ $# -gt 0 ] || { echo "usage: scripts/check-symbols.sh [--headers DIR] LIB..." >&2; exit 2; }
status=0
defined="" exported="" have_shared=0
for lib in "$@"; do
  case $lib in
    *.a) syms=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u) ;;
    *) syms=$(nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)
       exported=$(printf '%s\n%s\n' "$exported" "$syms")
       have_shared=1 ;;
  esac
  defined=$(printf '%s\n%s\n' "$defined" "$syms")
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
if [ -n "$headers" ]; then
  shopt -s nullglob
  hdrs=("$headers"/*.h)
  [ ${#hdrs[@]} -gt 0 ] || { echo "check-symbols: no headers in $headers" >&2; exit 1; }
  # a function declaration starts a line (not a typedef, macro, comment or field) and must carry VKSLM_API
  unmarked=$(grep -n -H -E '^[A-Za-z_][A-Za-z0-9_ *]*\bvkslm_[A-Za-z0-9_]+\(' "${hdrs[@]}" |
             grep -v -E ':(VKSLM_API|typedef|static inline) ' || true)
  if [ -n "$unmarked" ]; then
    echo "check-symbols: FAIL: public function declarations without VKSLM_API (they would not be exported):" >&2
    sed 's/^/  /' <<<"$unmarked" >&2
    status=1
  fi
  declared=$(grep -h -o -E '^VKSLM_API [^(;]*\(' "${hdrs[@]}" | grep -o -E 'vkslm_[A-Za-z0-9_]+\($' | tr -d '(' | sort -u)
  pending=() n_ok=0
  for fn in $declared; do
    if ! grep -q -x "$fn" <<<"$defined"; then
      pending+=("$fn")
    elif [ $have_shared = 1 ] && ! grep -q -x "$fn" <<<"$exported"; then
      echo "check-symbols: FAIL: $fn is declared public but the shared library does not export it" >&2
      status=1
    else
      n_ok=$((n_ok + 1))
    fi
  done
  echo "check-symbols: ${hdrs[*]}: $n_ok declared functions defined$([ $have_shared = 1 ] && echo " and exported")"
  if [ ${#pending[@]} -gt 0 ]; then
    echo "check-symbols: ${#pending[@]} declared but not defined yet: ${pending[*]}"
  fi
fi
exit $status
