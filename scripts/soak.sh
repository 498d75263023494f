#!/usr/bin/env bash
# Runs one pipeline over and over to catch a rare hang: every run that has not ended after
# LIMIT seconds gets a diagnostic report of all its threads (JavaScript stacks of the main
# thread and every worker, Node's --report-on-signal) in DIR, is killed, and the soak stops.
#   scripts/soak.sh [minutes] [pipeline args...]
#   e.g. ENGINE=ts PARALLELISM=2 scripts/soak.sh 60 examples/nexmark/q7.ts -- 12000000
# Defaults: 10 minutes of Nexmark q7 (12 M events) at parallelism 2 on the native engine;
# LIMIT 45 s (a run takes 2-8 s here); DIR /tmp/sluice-soak. Needs `npm run build` first.
# Why: on 2026-12-07 one q7 run at p=2 stopped making progress with every thread idle, and
# 130 runs after it did not (see docs/scaling.md); a hang that rare needs a long soak and a
# report taken while it is stuck.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
shift || true
[ $# -gt 0 ] || set -- examples/nexmark/q7.ts -- 12000000
limit=${LIMIT:-45}
dir=${DIR:-/tmp/sluice-soak}
mkdir -p "$dir"
end=$(( $(date +%s) + 60 * minutes ))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
  n=$((n + 1))
  node --report-on-signal --report-signal=SIGUSR2 --report-directory="$dir" dist/ts/cli/main.js run "$1" \
    --engine "${ENGINE:-native}" --parallelism "${PARALLELISM:-2}" --no-progress "${@:2}" > "$dir/run.log" 2>&1 &
  pid=$!
  waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$limit" ]; do sleep 1; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    kill -USR2 "$pid"
    sleep 5
    kill -9 "$pid" 2>/dev/null
    cp "$dir/run.log" "$dir/hung-$n.log"
    echo "run $n made no progress in $limit s: report and log in $dir" >&2
    exit 1
  fi
  wait "$pid"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    cp "$dir/run.log" "$dir/failed-$n.log"
    echo "run $n failed (exit $rc): log in $dir/failed-$n.log" >&2
    exit 1
  fi
done
echo "$n runs, none hung or failed" >&2
