#!/usr/bin/env bash
# Installs (with apt-get) only the system packages vkslm needs that are not installed yet. Idempotent.
# Usage: scripts/install-deps.sh [--dev]   (--dev adds clang and its sanitizer/fuzzer runtime)
set -euo pipefail
pkgs=(cmake make gcc pkg-config libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
      glslang-tools spirv-tools libstb-dev libcunit1-dev libpcre2-dev libmicrohttpd-dev libcjson-dev curl
      python3)
if [ "${1:-}" = "--dev" ]; then pkgs+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
