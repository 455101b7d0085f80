#!/usr/bin/env bash
# Hostile-HTTP probe of `vkslm serve`: starts a server over shared test models, replays the corpus of
# hostile requests in scripts/probe/corpus.py over raw sockets (malformed and deeply nested JSON, wrong
# types, invalid UTF-8, NUL bytes, huge bodies, chunked and header abuse, slow and idle clients, foreign
# Origin and Host, duplicate keys, template injection, overload) and checks each status, that every body
# is strict JSON in strict UTF-8, and that the server neither crashes nor hangs and still answers a real
# completion after each group; then stops it with SIGTERM (it must exit 0, with no sanitizer report).
# Usage: scripts/hostile-http.sh [--vkslm PATH] [--group NAME]... [--list] [--verbose] [--timeout-scale X] [--repeat N]
# LD_PRELOAD, if set, is given to the server only (as .ci/run preloads libasan for the ASan build).
exec "$(dirname "$0")/probe/launch.sh" hostile "$0" 9 "$@"
