"""The import benchmark at its quick size: the imported models give snnTorch's spikes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_import_quick_matches_snntorch(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_import.py"),
                           "--quick", "--out", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench_import.json").read_text())
    cases = report["work"]["cases"]
    assert {c["label"].split()[0] for c in cases} == {"mlp", "conv"}
    for case in cases:
        assert set(case["implementations"]) == {"ours", "snntorch"}
        assert case["checks"]["output_spikes"] > 0  # a comparison of something
        assert case["checks"]["mismatched_output_spikes"] == 0
        assert case["ratios"]["snntorch/ours"] > 0
    assert (tmp_path / "bench_import.md").read_text().startswith("# Imported snnTorch models")
