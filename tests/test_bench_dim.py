"""The spiking DIM benchmark at its quick size: ours and the PyTorch simulation agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_dim_quick_agrees_with_the_torch_simulation(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_dim.py"), "--quick",
                           "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench_dim.json").read_text())
    case = report["work"]["cases"][0]
    assert set(case["implementations"]) == {"ours", "torch", "ann dim"}
    assert case["checks"]["same_predictions"]
    assert case["checks"]["max_abs_score_difference"] < 1e-4
    assert (tmp_path / "bench_dim.md").read_text().startswith("# Spiking DIM inference")
