#!/usr/bin/env bash
# Quick start, main job: installs what is missing, builds, lists the Vulkan devices and runs the default
# benchmark (a synthetic smollm2-135m in Q4_0, made on the fly: no download). Extra arguments go to bench.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
./build/vkslm devices
./build/vkslm bench "$@"
