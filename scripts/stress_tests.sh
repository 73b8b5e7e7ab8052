#!/usr/bin/env bash
# The whole test suite beside four CPU burners, N runs in a row (default 3): no test may
# depend on an idle machine. Stops at the first failing run; prints each run's wall time.
#
#   scripts/stress_tests.sh [N] [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-3}"
shift || true
burners=()
stop_burners() {
    for pid in "${burners[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM

for _ in 1 2 3 4; do
    python3 -c 'while True: pass' &
    burners+=("$!")
done
echo "4 CPU burners: ${burners[*]}"

for run in $(seq 1 "$runs"); do
    started=$(date +%s)
    status=passed
    uv run pytest -q "$@" || status=FAILED
    echo "stress run $run/$runs: $status in $(($(date +%s) - started)) s"
    [ "$status" = passed ] || exit 1
done
