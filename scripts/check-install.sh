#!/usr/bin/env bash
# Installs the build in BUILD_DIR (default build) into a temporary prefix, checks that the installed
# libraries export only vkslm_ symbols and every function the installed headers declare
# (scripts/check-symbols.sh), and builds tests/install/example.c
# against it twice: with pkg-config and with CMake's find_package(vkslm). Runs both. Then imports the Python
# binding (bindings/python), which must find the installed library without VKSLM_LIBRARY.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
prefix=$(mktemp -d /tmp/vkslm-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libvkslm.so.0' | head -1)")
test -x "$prefix/bin/vkslm"
test -f "$prefix/include/vkslm.h"
test -f "$prefix/include/vkslm_gguf.h"
readelf -d "$libdir/libvkslm.so" | grep -q 'SONAME.*libvkslm.so.0'
scripts/check-symbols.sh --headers "$prefix/include" "$libdir/libvkslm.a" "$libdir/libvkslm.so"
PKG_CONFIG_PATH="$libdir/pkgconfig" cc tests/install/example.c -o "$prefix/ex-pc" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs vkslm)
LD_LIBRARY_PATH="$libdir" "$prefix/ex-pc"
cmake -S tests/install -B "$prefix/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/cmake-build/example"
# the binding's fallback: the installed libvkslm.so.0 (found here through LD_LIBRARY_PATH, as ld.so would find it
# in a system prefix), not a VKSLM_LIBRARY; /proc/self/maps says which file it loaded
loaded=$(env -u VKSLM_LIBRARY -u LD_PRELOAD LD_LIBRARY_PATH="$libdir" PYTHONPATH="$PWD/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
  python3 -c 'import vkslm; print(vkslm.version()); print(*{l.split()[-1] for l in open("/proc/self/maps") if "libvkslm" in l})')
echo "$loaded" | grep -q "^$libdir/libvkslm.so" || { echo "install check: the Python binding loaded: $loaded" >&2; exit 1; }
echo "install check: OK (shared library with SONAME libvkslm.so.0, only vkslm_ symbols exported, every public function exported, headers, pkg-config, CMake package, CLI, the Python binding finds it)"
