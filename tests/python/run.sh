#!/usr/bin/env bash
# ctest test_python_binding: installs bindings/python into a virtual environment as README's quick start does
# (offline: python3 -m venv --system-site-packages, pip install --no-index --no-build-isolation) and runs its
# pytest suite against LIBRARY (through VKSLM_LIBRARY) with CLI as the C reference.
#   tests/python/run.sh LIBRARY CLI TESTDATA VENV
# Exit 77 (skipped) when Debian's python3-venv, python3-pip or python3-pytest is missing, unless CI is set:
# then it fails. Runs without LD_PRELOAD (tests/CMakeLists.txt drops the sanitizer pass's).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
lib=$1 cli=$2 testdata=$3 venv=$4
# Debian's interpreter: its python3-pytest lives in its own site-packages (not an interpreter on PATH, pyenv's say)
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
missing() {
  echo "test_python_binding: $*" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  exit 77
}
[ -n "$python" ] || missing "no python3 (scripts/install-deps.sh installs it)"
"$python" -c 'import venv, ensurepip' 2>/dev/null || missing "no python3-venv (scripts/install-deps.sh installs it)"
"$python" -c 'import pytest' 2>/dev/null || missing "no python3-pytest (scripts/install-deps.sh installs it)"
[ -f "$lib" ] || missing "no library $lib (build it first; a sanitized build uses the normal build's: tests/CMakeLists.txt)"
[ -x "$cli" ] || missing "no vkslm CLI $cli"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv --system-site-packages "$venv"
fi
# from a copy: setuptools builds in the folder it is given (build/, *.egg-info), which must not be the source tree
rm -rf "$venv/src" && cp -r "$root/bindings/python" "$venv/src"
"$venv/bin/pip" install --quiet --no-index --no-build-isolation --force-reinstall --no-deps "$venv/src"
# from outside the source tree, so that the installed package is the one imported
cd "$venv"
PYTHONDONTWRITEBYTECODE=1 VKSLM_LIBRARY="$lib" VKSLM_CLI="$cli" VKSLM_TESTDATA="$testdata" \
  exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests"
