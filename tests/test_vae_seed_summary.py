"""scripts/vae_seed_summary.py pairs awake and slept models by VAE seed, per model and threat."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "vae_seed_summary.py"


@pytest.fixture(scope="module")
def summary():
    spec = importlib.util.spec_from_file_location("vae_seed_summary", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(defense, attack, threat, accuracy, clf="C1", n=10):
    return {"defense": defense, "attack": attack, "threat_model": threat,
            "accuracy": accuracy, "classifier": clf, "n": n}  # fmt: skip


def _write_run(root, seed, whitebox, blackbox=None):
    run = root / "mnist" / f"vae-seed-{seed}"
    run.mkdir(parents=True)
    (run / "whitebox.json").write_text(json.dumps(whitebox))
    if blackbox is not None:
        (run / "blackbox.json").write_text(json.dumps(blackbox))


def test_deltas_pair_by_vae_seed_per_model_and_threat(tmp_path, summary):
    for seed, (awake, slept, e2e, e2e_slept, bb, bb_slept) in enumerate(
        [(90.0, (80.0, 82.0), 70.0, (71.0, 73.0), 60.0, (50.0, 52.0)),
         (94.0, (85.0, 87.0), 72.0, (70.0, 70.0), 64.0, (60.0, 60.0))]
    ):  # fmt: skip
        whitebox = [
            _record("defense-vae", "fgsm", "gray-box", awake),
            *(_record(f"defense-vae-sleep#s{s}", "fgsm", "gray-box", a)
              for s, a in enumerate(slept)),
            _record("defense-vae-e2e", "fgsm", "gray-box", e2e),
            *(_record(f"defense-vae-sleep-e2e#s{s}", "fgsm", "gray-box", a)
              for s, a in enumerate(e2e_slept)),
            _record("none", "fgsm", "white-box", 1.0),
        ]  # fmt: skip
        blackbox = [
            _record("defense-vae", "none", "none", 99.0),  # repeats a clean row: ignored
            _record("defense-vae", "fgsm", "black-box", bb),
            *(_record(f"defense-vae-sleep#s{s}", "fgsm", "black-box", a)
              for s, a in enumerate(bb_slept)),
        ]  # fmt: skip
        _write_run(tmp_path, seed, whitebox, blackbox)
    rows = {(r["model"], r["row"]): r for r in summary.summarise(tmp_path)}
    assert set(rows) == {("Defense-VAE", "gray-box FGSM"), ("E2E", "gray-box FGSM"),
                         ("Defense-VAE", "black-box FGSM")}  # fmt: skip
    gray = rows["Defense-VAE", "gray-box FGSM"]
    assert gray["delta"] == {0: -9.0, 1: -8.0}
    assert gray["delta_mean_std"] == (pytest.approx(-8.5), pytest.approx(0.5))
    assert gray["vae_seeds_with_delta_below_0"] == 2
    e2e = rows["E2E", "gray-box FGSM"]
    assert e2e["delta"] == {0: 2.0, 1: -2.0}
    assert e2e["vae_seeds_with_delta_below_0"] == 1
    assert rows["Defense-VAE", "black-box FGSM"]["delta"] == {0: -9.0, 1: -4.0}
    assert "| E2E | C1 | gray-box FGSM | 10 |" in summary.markdown(list(rows.values()), "cmd")


def test_seeds_without_both_sides_are_left_out(tmp_path, summary):
    _write_run(tmp_path, 0, [_record("defense-vae", "fgsm", "gray-box", 90.0),
                             _record("defense-vae-sleep#s0", "fgsm", "gray-box", 80.0)])
    _write_run(tmp_path, 1, [_record("defense-vae", "fgsm", "gray-box", 91.0)])
    (row,) = summary.summarise(tmp_path)
    assert row["vae_seeds"] == [0] and row["delta"] == {0: -10.0}
