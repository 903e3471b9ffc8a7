#!/usr/bin/env bash
# CUDA without TensorRT, run for real on a GPU machine that has torch with CUDA and no network.
#
#   scripts/gpu_check.sh fetch     # first, on a machine with network: wheels it may need -> wheelhouse/device/
#   scripts/gpu_check.sh [OUT]     # then on the GPU machine (OUT: $OUT, else gpu_check_out)
#
# On the GPU machine, within 8 minutes: the `cuda` tests (and the `gpu` ones, which skip without
# TensorRT), `zoe-export doctor --smoke` as far as it goes, and the PyTorch GPU benchmark of M12-N
# (seeded random weights; FP32 and AMP; batch 1 and 8). It installs nothing into the machine's
# Python: a missing cuda-python or Polygraphy comes from wheelhouse/device (git-ignored; carry it
# with the working tree) into a temporary folder on PYTHONPATH. Every step is logged to OUT and the
# script goes on when one fails; the exit status is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=wheelhouse/device

if [ "${1:-}" = fetch ]; then
  # the GPU machines here run Python 3.12 (DEVICE_PYTHON to change); cuda-bindings for CUDA 12 and 13 drivers
  for spec in "cuda-bindings>=12.6,<13" "cuda-bindings>=13,<14" "cuda-pathfinder" "polygraphy>=0.50.3,<0.54"; do
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${DEVICE_PYTHON:-3.12}" \
      --platform manylinux_2_28_x86_64 --dest "$WHEELS" "$spec" || exit 1
  done
  ls -l "$WHEELS"
  exit 0
fi

OUT=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT"
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0
step() {  # step [--report] NAME SECONDS COMMAND...: run with a time limit, log to OUT/NAME.log, remember the first
  local counts=1                # failure (--report: the exit status only reports, e.g. doctor's "not ready")
  [ "$1" = --report ] && { counts=0; shift; }
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit} s): $*" | tee -a "$OUT/summary.txt"
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
  tail -n 15 "$OUT/$name.log" | sed 's/^/   | /' | tee -a "$OUT/summary.txt"
  [ $counts -eq 1 ] && [ $rc -ne 0 ] && [ $status -eq 0 ] && status=$rc
  return 0
}

{
  echo "gpu_check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1
  "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
} | tee "$OUT/summary.txt"

# cuda-python and Polygraphy: the machine's own, else the carried wheels (cuda-bindings for the driver's CUDA major)
if ! "$PY" -c 'from cuda.bindings import runtime' 2>/dev/null; then
  major=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9]*' | grep -o '[0-9]*$')
  wheel=$(ls "$WHEELS"/cuda_bindings-"${major:-13}".*cp3"$("$PY" -c 'import sys; print(sys.version_info.minor)')"*.whl 2>/dev/null | tail -n 1)
  if [ -n "$wheel" ]; then
    "$PY" -m pip install --quiet --no-deps --no-index --target "$SITE" "$wheel" "$WHEELS"/cuda_pathfinder-*.whl \
      && echo "cuda-python from $wheel" | tee -a "$OUT/summary.txt"
  else
    echo "no cuda-python here and none in $WHEELS (run: scripts/gpu_check.sh fetch): the cuda tests will skip" | tee -a "$OUT/summary.txt"
  fi
fi
if ! "$PY" -c 'import polygraphy' 2>/dev/null && ls "$WHEELS"/polygraphy-*.whl >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --no-deps --no-index --target "$SITE" "$WHEELS"/polygraphy-*.whl
fi
export PYTHONPATH="$PYTHONPATH:$SITE"

step pytest 240 "$PY" -m pytest -p no:cacheprovider -q -rs -m "cuda or gpu" tests/trt/test_cuda_gpu.py \
  tests/trt/test_gpu.py tests/runtime/test_trt_runner.py tests/runtime/test_runners.py
step --report doctor 120 "$PY" -m zoe_export.cli.main doctor --smoke --json "$OUT/doctor.json"
step bench 300 "$PY" -m zoe_export.cli.bench --torch fp32 --torch amp --variant M12-N --random-weights --device cuda \
  --batch-sizes 1,8 --seconds 15 --output "$OUT/bench"
echo "gpu_check: exit $status" | tee -a "$OUT/summary.txt"
exit $status
