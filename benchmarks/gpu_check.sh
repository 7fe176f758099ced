#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU, run the CUDA kernel tests against the real device
# (not the simulator), the PTX check, and every benchmark that has a CUDA backend, writing JSON
# and Markdown into OUT (default gpu-results/). Meant to finish in under 10 minutes on one
# H100-class GPU; each step has its own time limit, and a failed step does not stop the others.
#
#     bash benchmarks/gpu_check.sh [OUT]
#
# OUT/summary.md lists every step with its exit status and wall time; OUT/*.log hold the output.
set -u
OUT="${1:-gpu-results}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
export NUMBA_ENABLE_CUDASIM=0
export SPIKEDEFENSE_DATA="${SPIKEDEFENSE_DATA:-../shared/data}"

{
  echo "# GPU check"
  echo
  echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
    | sed 's/^/GPU: /' || echo "GPU: nvidia-smi not found"
  echo
  echo "| step | exit status | seconds |"
  echo "|---|---|---|"
} > "$SUMMARY"

step() {  # step NAME LIMIT_S COMMAND...
  local name="$1" limit="$2"
  shift 2
  local start end rc
  start=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  end=$(date +%s)
  echo "| $name | $rc | $((end - start)) |" >> "$SUMMARY"
  echo "$name: exit $rc in $((end - start)) s"
}

if ! python -c "from numba import cuda; raise SystemExit(0 if cuda.is_available() else 1)" \
    > "$OUT/device.log" 2>&1; then
  echo "| cuda-available | 1 | 0 |" >> "$SUMMARY"
  echo >> "$SUMMARY"
  echo "No CUDA device here: nothing was measured." >> "$SUMMARY"
  cat "$SUMMARY"
  exit 1
fi

python - <<'EOF' > "$OUT/device.json" 2>>"$OUT/device.log"
import json, sys
sys.path.insert(0, "benchmarks")
from bench_cuda import device_info
print(json.dumps(device_info(), indent=1))
EOF

# CUDA tests on the device: the kernel tests (each runs on cpu and cuda) and CUDA-vs-CPU bits.
step tests-cuda 240 python -m pytest -q -p no:cacheprovider \
  tests/test_cuda_equals_cpu.py tests/test_lif.py tests/test_kwta.py tests/test_stdp.py \
  tests/test_propagate.py tests/test_encode.py tests/test_record.py tests/test_hebbian_kernels.py
step ptx 60 python scripts/check_cuda_ptx.py
step bench-kernels 180 python benchmarks/bench_kernels.py --backend cuda --out "$OUT"
step bench-sleep 120 python benchmarks/bench_sleep.py --backend cuda --quick --out "$OUT"

echo >> "$SUMMARY"
echo "Benchmark reports: $(cd "$OUT" && ls *.md 2>/dev/null | grep -v summary.md | tr '\n' ' ')" \
  >> "$SUMMARY"
cat "$SUMMARY"
