#!/usr/bin/env bash
# Quick start, tests: installs what is missing, builds, and runs every test suite with the Khronos
# validation layer on (any validation message fails a test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
export VKSLM_VALIDATE=1
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
