#!/usr/bin/env bash
# Sets up the separate virtualenv that OpenDP's own dp.mbi contingency tables run in, and
# prints its python.
#
# Why separate: OpenDP 0.14.2's dp.mbi (opendp[mbi]) pins mbi==1.0.0 and polars==1.32.0, and
# its table fit fails with mbi 1.1 (weight_marginals) and JAX 0.10 (tracing); our environment
# needs mbi 1.1 for smartnoise-synth and polars 2. mbi 1.0.0's sampler also relies on pandas 2's
# groupby.apply (pandas 3 drops the grouping columns). Every package is pinned to the set that
# ran here, so a later release of a transitive dependency cannot change the reference.
#
# Idempotent and quiet: it installs only when the venv is missing or its pins changed; pip's
# output goes to a log inside the venv, shown only when the install fails (exit 1).
# PYTHON311 chooses the interpreter (default python3.11), OPENDP_MBI_VENV the location.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OPENDP_MBI_VENV:-$ROOT/.venv-opendp-mbi}"
PYTHON311="${PYTHON311:-python3.11}"
PINS=(
  "opendp[mbi]==0.14.2" mbi==1.0.0 jax==0.7.1 jaxlib==0.7.1 polars==1.32.0
  numpy==2.4.6 pandas==2.3.3 pyarrow==26.0.1
  absl-py==2.5.1 attrs==26.1.0 chex==0.1.92 cloudpickle==3.1.2 Deprecated==1.3.1
  joblib==1.6.0 ml_dtypes==0.6.0 narwhals==2.29.0 networkx==3.6.1 opt_einsum==3.4.0
  optax==0.2.8 python-dateutil==4.0.0 pytz==2026.6 randomgen==2.5.1 scikit-learn==1.9.1
  scipy==1.17.1 threadpoolctl==3.8.0 toolz==1.2.0 typing_extensions==4.16.0
  tzdata==2026.6 wrapt==2.5.2
)
STAMP="$VENV/.opendp-mbi-pins"
LOG="$VENV/pip-install.log"

fail() {
  echo "opendp_mbi_env: $1" >&2
  exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON311" >/dev/null || fail "$PYTHON311 not found (set PYTHON311 to a Python 3.11 interpreter)"
  "$PYTHON311" -m venv "$VENV" || fail "could not create the virtualenv $VENV"
fi

if [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ]; then
  rm -f "$STAMP"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check "${PINS[@]}" >"$LOG" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$LOG" | tail -n 20 >&2
    fail "pip could not install the pinned OpenDP dp.mbi environment into $VENV (full log: $LOG)"
  fi
  "$VENV/bin/python" -c "import opendp.prelude, mbi, jax, polars, pandas, pyarrow" >>"$LOG" 2>&1 \
    || fail "the OpenDP dp.mbi environment installed but does not import (log: $LOG)"
  echo "${PINS[*]}" >"$STAMP"
fi

echo "$VENV/bin/python"
