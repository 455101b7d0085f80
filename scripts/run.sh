#!/usr/bin/env bash
# Quick start, main job: installs what is missing, builds, and runs `vkslm devices`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
./build/vkslm devices "$@"
