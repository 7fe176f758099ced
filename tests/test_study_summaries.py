"""The study summaries in scripts/: vae_seed_summary pairs awake and slept models by VAE seed (per
model and threat); sleep_length_summary compares sleeps of several lengths on one awake model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def summary():
    return _load("vae_seed_summary")


@pytest.fixture(scope="module")
def length():
    return _load("sleep_length_summary")


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


def test_runs_on_other_images_get_their_own_row(tmp_path, summary):
    """The same attack on 100 and on 500 images gives two rows, never one average."""
    _write_run(tmp_path, 0, [_record("defense-vae", "pgd", "white-box-adaptive", 10.0, n=100),
                             _record("defense-vae-sleep#s0", "pgd", "white-box-adaptive", 4.0,
                                     n=100),
                             _record("defense-vae", "pgd", "white-box-adaptive", 30.0, n=500),
                             _record("defense-vae-sleep#s0", "pgd", "white-box-adaptive", 20.0,
                                     n=500)])  # fmt: skip
    rows = {r["n"]: r for r in summary.summarise(tmp_path)}
    assert set(rows) == {100, 500}
    assert rows[100]["delta"] == {0: -6.0} and rows[500]["delta"] == {0: -10.0}


def _layer(width_before, width_after, mean_abs):
    return {"spikes": 10, "weight_change": {"mean_abs": mean_abs, "fraction_changed": 0.5},
            "spread_before": {"width": width_before}, "spread_after": {"width": width_after}}


def _length_run(root, n_sleep, awake, slept, widths):
    run = root / "mnist" / f"n-sleep-{n_sleep}"
    run.mkdir(parents=True)
    records = [_record("defense-vae", "fgsm", "gray-box", awake)]
    records += [_record(f"defense-vae-sleep#s{s}", "fgsm", "gray-box", a)
                for s, a in enumerate(slept)]  # fmt: skip
    report = {f"defense-vae#s{s}": {"seconds": 1.0, "layers": {"S1": _layer(1.0, w, 0.1)}}
              for s, w in enumerate(widths)}  # fmt: skip
    (run / "whitebox.json").write_text(json.dumps(records))
    (run / "sleep_report.json").write_text(json.dumps(report))


def test_sleep_length_deltas_and_widening(tmp_path, length):
    _length_run(tmp_path, 100, 90.0, (80.0, 84.0), (1.02, 1.04))
    _length_run(tmp_path, 1000, 90.0, (70.0, 70.0), (1.10, 1.10))
    runs = length.summarise(tmp_path)
    assert [r["n_sleep"] for r in runs] == [100, 1000]
    (short,), (long,) = (r["accuracy"] for r in runs)
    assert (short["delta"], short["sleep_std"]) == (pytest.approx(-8.0), pytest.approx(2.0))
    assert long["delta"] == pytest.approx(-20.0)
    assert runs[0]["weights"][0]["width_growth_percent"] == pytest.approx(3.0)
    assert runs[1]["weights"][0]["width_growth_percent"] == pytest.approx(10.0)
    assert "| C1 | gray-box FGSM | 10 | 90.00 | -8.00 (82.00 ± 2.00) | -20.00" in (
        length.markdown(runs, "cmd"))


def test_sleep_length_plot_starts_at_the_awake_model(tmp_path, length, monkeypatch):
    import matplotlib.axes
    import matplotlib.image

    _length_run(tmp_path, 100, 90.0, (80.0, 84.0), (1.02, 1.04))
    _length_run(tmp_path, 1000, 90.0, (70.0, 70.0), (1.10, 1.10))
    plotted = []
    errorbar = matplotlib.axes.Axes.errorbar

    def spy(self, x, y, *args, **kwargs):
        plotted.append((list(x), list(y), kwargs["yerr"], kwargs["label"]))
        return errorbar(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", spy)
    path = length.plot(length.summarise(tmp_path), tmp_path)
    label = "C1 gray-box FGSM (n = 10)"
    assert plotted == [([0, 100, 1000], [90.0, 82.0, 70.0], [0.0, 2.0, 0.0], label)]
    assert path == tmp_path / "sleep_length.png"
    assert matplotlib.image.imread(path).shape[2] in (3, 4)


def test_sleep_length_refuses_runs_with_different_awake_models(tmp_path, length):
    _length_run(tmp_path, 100, 90.0, (80.0,), (1.0,))
    _length_run(tmp_path, 1000, 91.0, (80.0,), (1.0,))
    with pytest.raises(ValueError, match="must share one awake model"):
        length.summarise(tmp_path)
