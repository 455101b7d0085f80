#!/usr/bin/env bash
# Installs (with apt-get) only the system packages vkslm needs that are not installed yet (the Python binding's
# venv, pip, setuptools, wheel and pytest, HAProxy for examples/scale-out, a JDK for the Java binding's test).
# Idempotent.
# Then OpenAI's Node client for the server test tests/openai (npm ci there, from its package-lock.json).
# Usage: scripts/install-deps.sh [--dev]   (--dev adds clang and its sanitizer/fuzzer runtime)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkgs=(cmake make gcc pkg-config libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
      glslang-tools spirv-tools libstb-dev libcunit1-dev libpcre2-dev libmicrohttpd-dev libcjson-dev curl
      python3 python3-venv python3-pip python3-setuptools python3-wheel python3-pytest haproxy
      openjdk-17-jdk-headless)
if [ "${1:-}" = "--dev" ]; then pkgs+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm: Debian's nodejs and npm packages, unless a node with its npm is there already (NodeSource's
# nodejs package bundles npm and conflicts with Debian's)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# the client, pinned by tests/openai/package-lock.json; again only when the lock file changed
client="$root/tests/openai"
if ! cmp -s "$client/package-lock.json" "$client/node_modules/.vkslm-installed-lock" 2>/dev/null; then
  echo "installing: the openai npm package for tests/openai" >&2
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error &&
   cp package-lock.json node_modules/.vkslm-installed-lock)
fi
