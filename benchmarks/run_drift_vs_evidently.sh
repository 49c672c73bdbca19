#!/usr/bin/env bash
# Drift monitor vs Evidently 0.7.23 DataDriftPreset, in a separate venv (.venv-bench) so that Evidently never
# becomes a dependency of the project. Extra arguments go to benchmarks/drift_vs_evidently.py, e.g.
#   bash benchmarks/run_drift_vs_evidently.sh                      # 200k x 20 equivalence + speed + memory
#   bash benchmarks/run_drift_vs_evidently.sh --stream-rows 10000000 --cols 50   # bounded-memory streaming
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${BENCH_VENV:-.venv-bench}"
STAMP="$VENV/.installed-stamp"

if [ ! -f "$STAMP" ] || [ benchmarks/requirements-bench.txt -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
  LOG="$VENV/install.log"
  "$VENV/bin/python" -m pip install -q --upgrade pip >"$LOG" 2>&1 || { cat "$LOG" >&2; exit 1; }
  # First try with the project's own pins for shared packages (numpy, scipy, pydantic ...); if Evidently's
  # requirements cannot be met with them, let pip resolve the versions for Evidently instead (the project's
  # exact pins in pyproject.toml still apply to the project itself).
  if ! "$VENV/bin/python" -m pip install -q -c constraints.txt -e . -r benchmarks/requirements-bench.txt >>"$LOG" 2>&1; then
    echo "bench: Evidently does not resolve with constraints.txt; letting pip choose its versions" >&2
    "$VENV/bin/python" -m pip install -q -e . -r benchmarks/requirements-bench.txt >>"$LOG" 2>&1 || { cat "$LOG" >&2; exit 1; }
  fi
  touch "$STAMP"
fi

"$VENV/bin/python" -c 'import evidently, numpy, scipy, pandas, pydantic; print(f"bench venv: evidently {evidently.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, pandas {pandas.__version__}, pydantic {pydantic.VERSION}")'
exec "$VENV/bin/python" benchmarks/drift_vs_evidently.py "$@"
