#!/usr/bin/env bash
# Fails when a source file under examples/ or bindings/ includes a header that is not public: the CLI, the
# server, the examples and the bindings are built on include/ (vkslm.h, vkslm_gguf.h) alone. Allowed:
#   #include "NAME"  when include/NAME exists, or NAME lies beside the including file (a program's own header);
#   #include <NAME>  a system header: anything that is not a header of this tree outside include/ (by path, or by
#                    bare name unless the system has a header of that name too).
#   scripts/check-public-includes.sh [DIR...]     default: examples bindings (those that exist)
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  for d in examples bindings; do [ -d "$d" ] && dirs+=("$d"); done
fi
[ ${#dirs[@]} -gt 0 ] || { echo "check-public-includes: no examples/ or bindings/ to check"; exit 0; }
# every other header in the tree (engine/, loaders/, tools/, tests/, generated ones in build folders), by path
mapfile -t internal < <(find . \( -name .git -o -path ./include \) -prune -o -type f \( -name '*.h' -o -name '*.hpp' \
                          -o -name '*.inc' \) -print | sed 's|^\./||' | grep -v -E "^($(IFS='|'; echo "${dirs[*]}"))/" || true)
status=0 files=0 includes=0
while IFS= read -r -d '' f; do
  files=$((files + 1))
  dir=$(dirname "$f")
  while IFS= read -r hit; do
    lineno=${hit%%:*}
    line=${hit#*:}
    if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      name=${BASH_REMATCH[1]}
      includes=$((includes + 1))
      [ -f "include/$name" ] && continue
      if [ -f "$dir/$name" ]; then # beside the file, and still inside the scanned folders (no ../ into engine/)
        real=$(realpath -m "$dir/$name")
        for d in "${dirs[@]}"; do
          [[ $real == "$(realpath -m "$d")"/* ]] && continue 2
        done
      fi
      echo "check-public-includes: $f:$lineno: \"$name\" is neither a public header (include/) nor beside the file" >&2
      status=1
    elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
      name=${BASH_REMATCH[1]}
      includes=$((includes + 1))
      [ -f "include/$name" ] && continue
      # a bare name that is also a system header (<error.h> is glibc's as well as engine/util's) is the system's
      [[ $name != */* ]] && { [ -f "/usr/include/$name" ] || [ -f "/usr/local/include/$name" ]; } && continue
      for h in "${internal[@]}"; do
        if [ "$h" = "$name" ] || [[ $h == */"$name" ]]; then
          echo "check-public-includes: $f:$lineno: <$name> is vkslm's internal $h, not a public header" >&2
          status=1
          break
        fi
      done
    elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include ]]; then
      echo "check-public-includes: $f:$lineno: an #include this check cannot read: $line" >&2
      status=1
    fi
  done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.cpp' -o -name '*.hpp' \
                                      -o -name '*.m' -o -name '*.mm' \) -print0)
if [ $status -eq 0 ]; then
  echo "check-public-includes: ${dirs[*]}: $files files, $includes includes, all public (include/), own or system headers"
fi
exit $status
