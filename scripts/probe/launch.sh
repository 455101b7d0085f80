#!/usr/bin/env bash
# Runs scripts/probe/NAME.py for scripts/soak.sh and scripts/hostile-http.sh: --vkslm PATH (default
# $VKSLM, else build/vkslm) is passed on, --help prints the calling script's header, and LD_PRELOAD (as
# .ci/run sets it for the ASan build) is handed to the server alone, never to Python or the clients.
# Usage: scripts/probe/launch.sh NAME CALLER HELP_LINES [ARGS...]
set -euo pipefail
name=$1 caller=$2 help_lines=$3
shift 3
root="$(cd "$(dirname "$0")/../.." && pwd)"
vkslm="${VKSLM:-$root/build/vkslm}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --vkslm) vkslm="$2"; shift 2 ;;
    --vkslm=*) vkslm="${1#--vkslm=}"; shift ;;
    -h|--help) sed -n "2,${help_lines}p" "$caller" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
export VKSLM_PROBE_SERVER_PRELOAD="${LD_PRELOAD:-}"
exec env -u LD_PRELOAD PYTHONDONTWRITEBYTECODE=1 python3 "$root/scripts/probe/$name.py" --vkslm "$vkslm" \
  ${args[@]+"${args[@]}"}
