#!/usr/bin/env bash
# ctest test_server_openai_client: runs tests/openai/client.test.mjs (node's test runner) against
# `vkslm serve`, through OpenAI's official Node client installed in tests/openai/node_modules by
# scripts/install-deps.sh. LD_PRELOAD (the ASan pass preloads libasan) goes to the server alone, never to node.
# Usage: tests/openai/run.sh VKSLM TESTDATA
# Exit 77 (skipped) when node or the client is missing, except under CI, where that is a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=""
command -v node >/dev/null || missing="node"
[ -d "$here/node_modules/openai" ] || missing="${missing:+$missing, }the openai package (scripts/install-deps.sh)"
if [ -n "$missing" ]; then
  echo "test_server_openai_client: missing $missing" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  exit 77
fi
export VKSLM_PROBE_SERVER_PRELOAD="${VKSLM_PROBE_SERVER_PRELOAD:-${LD_PRELOAD:-}}"
exec env -u LD_PRELOAD VKSLM="$1" VKSLM_TESTDATA="${VKSLM_TESTDATA:-$2}" node --test --test-reporter=spec "$here/client.test.mjs"
