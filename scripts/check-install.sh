#!/usr/bin/env bash
# Installs the build in BUILD_DIR (default build) into a temporary prefix, checks that the installed
# libraries export only vkslm_ symbols and every function the installed headers declare
# (scripts/check-symbols.sh), and builds tests/install/example.c
# against it twice: with pkg-config and with CMake's find_package(vkslm). Runs both.
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
echo "install check: OK (shared library with SONAME libvkslm.so.0, only vkslm_ symbols exported, every public function exported, headers, pkg-config, CMake package, CLI)"
