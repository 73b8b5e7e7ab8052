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
tests=""
stop() {
    for pid in "${burners[@]}" $tests; do
        kill "$pid" 2>/dev/null || true
    done
}
trap stop EXIT
trap 'exit 130' INT TERM

for _ in 1 2 3 4; do
    python3 -c 'while True: pass' &
    burners+=("$!")
done
echo "4 CPU burners: ${burners[*]}"

for run in $(seq 1 "$runs"); do
    started=$(date +%s)
    # In the background and waited for, so that a signal stops the run at once.
    uv run pytest -q "$@" &
    tests=$!
    status=passed
    wait "$tests" || status=FAILED
    tests=""
    echo "stress run $run/$runs: $status in $(($(date +%s) - started)) s"
    [ "$status" = passed ] || exit 1
done
