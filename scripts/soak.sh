#!/usr/bin/env bash
# Soak test of `vkslm serve`: N concurrent clients send chat and text completions, whole and streamed,
# for S seconds against a server over a small shared test model (stories260K), checking that every
# answer is 200 with a strict-JSON (or SSE of strict-JSON events) body; prints requests, errors,
# p50/p90/p99 latency and the server's RSS after a warm-up and at the end. Exit status 1 on any error,
# a crash, an unclean exit on SIGTERM (or a sanitizer report in its stderr), or RSS growth >= 64 MiB.
# Usage: scripts/soak.sh [--clients 8] [--seconds 300] [--vkslm PATH] [--config FILE] [--seed N]
# LD_PRELOAD, if set, is given to the server only (as .ci/run preloads libasan for the ASan build).
exec "$(dirname "$0")/probe/launch.sh" soak "$0" 8 "$@"
