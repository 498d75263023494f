#!/usr/bin/env bash
# Runs CI (.ci/run: install, build, every test) while a second process keeps every core busy,
# to show the suite does not depend on the machine's speed (issue 21, point 6). Uses Debian's
# stress-ng when installed (`apt-get install stress-ng`), else one busy Node loop per core.
set -euo pipefail
cd "$(dirname "$0")/.."
cores=$(nproc)
if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$cores" --quiet &
else
  node -e "const {Worker}=require('node:worker_threads');for(let i=1;i<$cores;i++)new Worker('for(;;);',{eval:true});for(;;);" &
fi
load=$!
trap 'kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true' EXIT
echo "load: pid $load keeps $cores cores busy" >&2
bash .ci/run
