"""The raster demo runs end to end, the raster plot draws, and the docstring examples hold."""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_raster_demo_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "raster.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "raster_demo.py"), "--out", str(out),
         "--steps", "10"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in proc.stdout
    assert "winners (c, y, x): [[" in proc.stdout  # the layer fired and k-WTA chose winners


def test_raster_plot_marks_layers_and_winners() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from spikedefense.snn import SpikeRecord
    from spikedefense.viz import raster_plot

    rng = np.random.default_rng(0)
    a = SpikeRecord.from_dense((rng.random((20, 50)) < 0.1).astype(np.uint8), name="a")
    b = SpikeRecord.from_dense((rng.random((20, 30)) < 0.2).astype(np.uint8), name="b")
    ax = raster_plot([a, b], winners={"b": np.array([[3, 7]])}, max_points=40)
    offsets = [c.get_offsets() for c in ax.collections]
    assert len(offsets) == 3  # two layers and the winners
    assert len(offsets[0]) == min(a.count, 40) and len(offsets[1]) == min(b.count, 40)
    assert offsets[1][:, 1].min() >= 50  # layer b is stacked above layer a's 50 neurons
    assert tuple(offsets[2][0]) == (3, 57)
    assert ax.get_ylim() == (0, 80)
    with pytest.raises(ValueError, match="records"):
        raster_plot([])


def test_spike_record_round_trip() -> None:
    from spikedefense.snn import SpikeRecord

    spikes = (np.random.default_rng(1).random((7, 3, 4, 5)) < 0.3).astype(np.uint8)
    rec = SpikeRecord.from_dense(spikes, name="x")
    assert rec.shape == (3, 4, 5) and rec.steps == 7 and rec.count == int(spikes.sum())
    assert np.array_equal(rec.to_dense(), spikes)
    assert rec.rate() == pytest.approx(spikes.mean())


def _modules_with_examples() -> list[str]:
    """Every module of the package whose docstrings hold ``>>>`` examples."""
    names = []
    for path in sorted([*(ROOT / "spikedefense").rglob("*.py"), *(ROOT / "kernels").rglob("*.py")]):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[0] == "kernels":
            parts.insert(0, "spikedefense")
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples(module: str) -> None:
    """Each module's examples run as written, with the module's own names in scope (the
    doctest convention); names from elsewhere must be imported in the example."""
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0


def test_own_defense_example_runs_and_matches_the_readme(tmp_path: Path) -> None:
    script = ROOT / "examples" / "own_defense.py"
    readme = (ROOT / "README.md").read_text()
    source = script.read_text()
    block = readme.split("## Evaluate your own defense", 1)[1].split("```python", 1)[1]
    block = block.split("```", 1)[0]
    body = [line for line in block.splitlines() if line.strip() and not line.startswith(
        ("import", "from"))]  # fmt: skip
    assert body and all(line.strip() in source for line in body), "README and example differ"
    proc = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = {tuple(line.split()[:3]): float(line.split()[3]) for line in proc.stdout.splitlines()}
    # The rounding hides the gradient: BPDA must do at least as well as the gray-box attack.
    adaptive = lines[("quantised-mlp", "worst-case", "white-box-adaptive")]
    assert adaptive <= lines[("quantised-mlp", "worst-case", "gray-box")]
    assert (tmp_path / "whitebox.md").is_file() and (tmp_path / "sanity.json").is_file()
