"""The Ray benchmark at its quick size: both executors run, their records are equal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_ray import PROJECT  # noqa: E402


@pytest.mark.slow
def test_bench_ray_quick_writes_equal_records_and_a_projection(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_ray.py"), "--quick",
                           "--workers", "2", "--out", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((tmp_path / "bench_ray.json").read_text())["result"]
    assert result["records_equal"] is True
    assert result["units"] == len(result["unit_seconds_ray"]) >= 4 * 6
    assert result["in_process_s"] > 0 and result["ray_s"] > result["ray_startup_s"] > 0
    assert set(result["projected_s"]) == {str(k) for k in PROJECT if k <= result["units"]}
    assert {"1", "2", "4", "8", "16"} <= set(result["projected_s"])
    assert "Projected for N single-CPU workers" in (tmp_path / "bench_ray.md").read_text()
