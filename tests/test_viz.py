"""Sleep-phase plots: spike-record files, weight histograms, reconstruction grids, ``plot`` CLI."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # before pyplot: the tests draw without a display

import matplotlib.pyplot as plt  # noqa: E402

from spikedefense.snn import SpikeRecord, load_records, save_records  # noqa: E402
from spikedefense.viz import (  # noqa: E402
    plot_reconstruction_grid,
    plot_weight_histograms,
    raster_plot,
    weight_spread,
)
from spikedefense.viz.curves import save_figure  # noqa: E402
from spikedefense.viz.files import (  # noqa: E402
    load_reconstructions_npz,
    load_weights_npz,
    save_reconstructions_npz,
    save_weights_npz,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures() -> Any:
    yield
    plt.close("all")


def _assert_png(path: Path) -> tuple[int, int]:
    """The file is a PNG of nonzero size; returns (width, height) from its IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    assert plt.imread(path).shape[:2] == (height, width)
    return width, height


def _records() -> tuple[list[SpikeRecord], dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    a = SpikeRecord.from_dense((rng.random((12, 4, 5, 5)) < 0.2).astype(np.uint8), name="S1")
    b = SpikeRecord.from_dense((rng.random((12, 30)) < 0.3).astype(np.uint8), name="S2")
    silent = SpikeRecord.from_dense(np.zeros((12, 3), np.uint8), name="silent")
    winners = {"S1": np.array([[2, 7], [5, 99]]), "silent": np.zeros((0, 2), np.int64)}
    return [a, b, silent], winners


# --- spike-record files ---------------------------------------------------------------------


def test_records_round_trip(tmp_path: Path) -> None:
    records, winners = _records()
    path = tmp_path / "sub" / "spikes.npz"
    save_records(path, records, winners)
    assert [p.name for p in path.parent.iterdir()] == ["spikes.npz"]  # no temp file left
    with np.load(path, allow_pickle=False) as npz:
        assert {"format", "record/0/times", "record/0/ids", "record/0/steps", "record/0/shape",
                "record/0/name", "record/2/times", "winners/0/name",
                "winners/0/rows"} <= set(npz.files)  # fmt: skip
    loaded, loaded_winners = load_records(path)
    assert len(loaded) == 3
    for got, want in zip(loaded, records, strict=True):
        assert (got.name, got.steps, got.shape, got.count) == (
            want.name, want.steps, want.shape, want.count)  # fmt: skip
        assert got.times.dtype == np.int64 and got.ids.dtype == np.int64
        np.testing.assert_array_equal(got.to_dense(), want.to_dense())
    assert list(loaded_winners) == ["S1", "silent"]
    np.testing.assert_array_equal(loaded_winners["S1"], [[2, 7], [5, 99]])
    assert loaded_winners["S1"].dtype == np.int64 and loaded_winners["silent"].shape == (0, 2)
    # Without winners, and a single record.
    save_records(path, records[:1])
    again, none = load_records(path)
    assert none == {} and len(again) == 1 and again[0].name == "S1"


def test_save_records_rejects_bad_input(tmp_path: Path) -> None:
    records, _ = _records()
    with pytest.raises(ValueError, match="^records:"):
        save_records(tmp_path / "a.npz", [])
    with pytest.raises(TypeError, match=r"^records\[1\]:"):
        save_records(tmp_path / "a.npz", [records[0], "S2"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="^winners: key 'S9'"):
        save_records(tmp_path / "a.npz", records, {"S9": np.array([[0, 0]])})
    with pytest.raises(ValueError, match=r"^winners\['S1'\]: expected integer rows \[n, 2\]"):
        save_records(tmp_path / "a.npz", records, {"S1": np.array([1, 2, 3])})
    with pytest.raises(ValueError, match=r"^winners\['S1'\]"):
        save_records(tmp_path / "a.npz", records, {"S1": np.array([[0.5, 1.0]])})
    assert not list(tmp_path.iterdir())


def test_load_records_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="not a readable .npz file.*no zip signature"):
        load_records(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", np.arange(3))
    with pytest.raises(ValueError, match="single .npy array"):
        load_records(tmp_path / "single.npy")
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="not a spike-record file"):
        load_records(tmp_path / "other.npz")
    records, _ = _records()
    save_records(tmp_path / "ok.npz", records[:1])
    with np.load(tmp_path / "ok.npz") as npz:
        arrays = dict(npz)
    arrays["record/0/ids"] = arrays["record/0/ids"] + 10_000  # beyond the layer's 100 neurons
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="spikes outside 12 steps x 100 neurons"):
        load_records(tmp_path / "bad.npz")
    del arrays["record/0/steps"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="missing array 'record/0/steps'"):
        load_records(tmp_path / "bad.npz")


# --- weights --------------------------------------------------------------------------------


def test_weight_spread_values() -> None:
    w = np.arange(101, dtype=np.float64).reshape(1, 101)
    spread = weight_spread(w)
    assert set(spread) == {"std", "p05", "p95", "width"}
    assert spread["p05"] == pytest.approx(5.0) and spread["p95"] == pytest.approx(95.0)
    assert spread["width"] == pytest.approx(90.0)
    assert spread["std"] == pytest.approx(np.std(w))
    assert all(type(v) is float for v in spread.values())


def test_weight_spread_accepts_torch_and_rejects_bad_input() -> None:
    torch = pytest.importorskip("torch")
    w = torch.linspace(-1, 1, 201, requires_grad=True)
    assert weight_spread(w)["width"] == pytest.approx(1.8, rel=1e-6)
    with pytest.raises(ValueError, match="^w: expected at least one value"):
        weight_spread(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="^w: holds 1 NaN or inf"):
        weight_spread(np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="^w: expected a numeric array"):
        weight_spread(np.array(["a", "b"]))


def _legend_texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_weight_histograms_before_and_after() -> None:
    rng = np.random.default_rng(0)
    before = {f"S{i}": rng.normal(0, 0.1, (8, 4, 3, 3)) for i in range(1, 5)}
    after = {name: 1.5 * w for name, w in before.items()}
    axes = plot_weight_histograms(before, after, bins=40, title="sleep")
    assert len(axes) == 4 and len({id(ax.figure) for ax in axes}) == 1
    assert axes[0].figure.get_suptitle() == "sleep"
    for ax, name in zip(axes, before, strict=True):
        assert ax.get_title() == name and ax.get_xlabel() == "weight"
        assert len(ax.patches) == 2  # one step outline before, one after
        assert len(ax.get_lines()) == 4  # p5 and p95 lines for each
        s0, s1 = weight_spread(before[name]), weight_spread(after[name])
        assert _legend_texts(ax) == [
            f"before: std {s0['std']:.3g}, p5–p95 width {s0['width']:.3g}",
            f"after: std {s1['std']:.3g}, p5–p95 width {s1['width']:.3g}",
        ]
        (ratios,) = [t.get_text() for t in ax.texts]
        assert "std ×1.50" in ratios and "width ×1.50" in ratios
        p05_line = ax.get_lines()[0].get_xdata()[0]
        assert p05_line == pytest.approx(s0["p05"])
    assert axes[0].get_ylabel() == "count"


def test_weight_histograms_counts_and_single_axes() -> None:
    torch = pytest.importorskip("torch")
    fig, ax = plt.subplots()
    w = torch.tensor([0.0, 0.0, 1.0, 2.0, 2.0, 2.0], requires_grad=True)
    (got,) = plot_weight_histograms({"S1": w}, ax=ax, bins=2)
    assert got is ax and len(ax.patches) == 1 and not ax.texts
    heights = set(np.round(ax.patches[0].get_xy()[:, 1], 9))
    assert {2.0, 4.0} <= heights and max(heights) == 4.0  # bins [0, 1) and [1, 2]
    assert _legend_texts(ax) == ["before: std 0.898, p5–p95 width 2"]


def test_weight_histograms_into_given_axes() -> None:
    fig, grid = plt.subplots(2, 1)
    before = {"S1": np.ones(5), "S2": np.arange(6.0)}
    axes = plot_weight_histograms(before, {"S2": np.arange(6.0), "S1": np.ones(5)}, ax=grid)
    assert axes == list(grid) and [ax.get_title() for ax in grid] == ["S1", "S2"]
    assert all(len(ax.patches) == 2 for ax in grid)
    assert "width ×n/a" in grid[0].texts[0].get_text()  # constant weights: no width to compare


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"before": [np.ones(3)]}, TypeError, "^before: expected a mapping"),
        ({"before": {}}, ValueError, "^before: expected at least one layer"),
        ({"before": {"S1": np.array([1.0, np.inf])}}, ValueError, r"^before\['S1'\]: holds 1"),
        ({"before": {"S1": np.ones(3)}, "after": {"S2": np.ones(3)}}, ValueError, "^after:"),
        ({"before": {"S1": np.ones(3)}, "after": {"S1": np.zeros(0)}}, ValueError,
         r"^after\['S1'\]: expected at least one value"),
        ({"before": {"S1": np.ones(3)}, "bins": 0}, ValueError, "^bins:"),
        ({"before": {"S1": np.ones(3)}, "bins": 2.5}, ValueError, "^bins:"),
        ({"before": {1: np.ones(3)}}, TypeError, "^before: layer names must be strings"),
        ({"before": {"S1": np.ones(3)}, "ax": "axes"}, TypeError, "^ax:"),
    ],
)  # fmt: skip
def test_weight_histograms_reject_bad_input(
    kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        plot_weight_histograms(**kwargs)


def test_weight_histograms_reject_wrong_axes_count() -> None:
    _, ax = plt.subplots()
    two = {"S1": np.ones(3), "S2": np.ones(3)}
    with pytest.raises(ValueError, match=r"^ax: expected 2 Axes \(one per layer\), got 1"):
        plot_weight_histograms(two, ax=ax)
    _, grid = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="^ax: expected 2 Axes"):
        plot_weight_histograms(two, ax=grid)


# --- reconstruction grids -------------------------------------------------------------------


def _rows(count: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.random((count, 1, 28, 28))
    return {"clean": x, "adversarial": np.clip(x + 0.2, 0, 1), "Defense-VAE": x[:, 0] * 0.5,
            "Defense-VAE-Sleep": np.sqrt(x)}  # fmt: skip


def test_reconstruction_grid_tiles_rows() -> None:
    rows = _rows()
    ax = plot_reconstruction_grid(rows, n=8, title="purified")
    assert len(ax.images) == 1 and ax.get_title() == "purified"
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (4 * 29 - 1, 8 * 29 - 1)  # 1-pixel gaps between images
    assert [t.get_text() for t in ax.get_yticklabels()] == list(rows)
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(8)]
    assert ax.get_xlabel() == "test image"
    for r, images in enumerate(rows.values()):
        for c in (0, 7):
            block = mosaic[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28]
            np.testing.assert_allclose(block, np.asarray(images).reshape(-1, 28, 28)[c])
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_reconstruction_grid_short_rows_and_torch() -> None:
    torch = pytest.importorskip("torch")
    rows = _rows()
    rows["Defense-VAE"] = rows["Defense-VAE"][:5]
    rows["clean"] = torch.tensor(rows["clean"], requires_grad=True)
    ax = plot_reconstruction_grid(rows, n=8)
    assert ax.images[0].get_array().shape == (4 * 29 - 1, 5 * 29 - 1)
    _, own = plt.subplots()
    assert plot_reconstruction_grid({"only": np.zeros((3, 7, 9))}, ax=own, n=2) is own
    assert own.images[0].get_array().shape == (7, 2 * 10 - 1)


@pytest.mark.parametrize(
    ("rows", "kwargs", "error", "pattern"),
    [
        ([np.zeros((2, 28, 28))], {}, TypeError, "^rows: expected a mapping"),
        ({}, {}, ValueError, "^rows: expected at least one row"),
        ({"a": np.zeros((2, 28, 28))}, {"n": 0}, ValueError, "^n:"),
        ({"a": np.zeros((2, 3, 28, 28))}, {}, ValueError, r"^rows\['a'\]: expected images"),
        ({"a": np.zeros((0, 28, 28))}, {}, ValueError, r"^rows\['a'\]: expected at least one"),
        ({"a": np.full((2, 28, 28), 255.0)}, {}, ValueError, r"^rows\['a'\]: .*\[0, 1\]"),
        ({"a": np.full((2, 28, 28), np.nan)}, {}, ValueError, r"^rows\['a'\]: .*NaN"),
        ({"a": np.zeros((2, 28, 28)), "b": np.zeros((2, 14, 14))}, {}, ValueError,
         "^rows: expected one image size"),
    ],
)  # fmt: skip
def test_reconstruction_grid_rejects_bad_input(
    rows: Any, kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        plot_reconstruction_grid(rows, **kwargs)


# --- writer helpers -------------------------------------------------------------------------


def test_weights_and_reconstruction_files_round_trip(tmp_path: Path) -> None:
    before = {"S1": np.ones((2, 3), np.float32), "S2": np.arange(4)}
    after = {"S1": np.zeros((2, 3), np.float32), "S2": np.arange(4) * 2}
    save_weights_npz(tmp_path / "w.npz", before, after)
    with np.load(tmp_path / "w.npz", allow_pickle=False) as npz:
        assert npz.files == ["before/S1", "before/S2", "after/S1", "after/S2"]
    got_before, got_after = load_weights_npz(tmp_path / "w.npz")
    assert got_after is not None and list(got_before) == ["S1", "S2"]
    for want, got in ((before, got_before), (after, got_after)):
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    save_weights_npz(tmp_path / "w.npz", before)
    assert load_weights_npz(tmp_path / "w.npz")[1] is None
    rows = _rows(3)
    save_reconstructions_npz(tmp_path / "r.npz", rows)
    loaded = load_reconstructions_npz(tmp_path / "r.npz")
    assert list(loaded) == list(rows)  # the file keeps the row order
    assert all(a.dtype == np.float32 and a.shape == (3, 28, 28) for a in loaded.values())
    np.testing.assert_allclose(loaded["clean"], rows["clean"][:, 0], rtol=1e-6)


def test_file_helpers_reject_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^after: expected the layers of before"):
        save_weights_npz(tmp_path / "w.npz", {"S1": np.ones(2)}, {"S2": np.ones(2)})
    with pytest.raises(ValueError, match=r"^before\['S1'\]: holds 1 NaN"):
        save_weights_npz(tmp_path / "w.npz", {"S1": np.array([np.nan])})
    with pytest.raises(ValueError, match=r"^rows\['x'\]: expected pixel values in \[0, 1\]"):
        save_reconstructions_npz(tmp_path / "r.npz", {"x": np.full((1, 4, 4), 2.0)})
    with pytest.raises(ValueError, match="^rows: expected one image size"):
        save_reconstructions_npz(tmp_path / "r.npz", {"a": np.zeros((1, 4, 4)),
                                                      "b": np.zeros((1, 5, 5))})  # fmt: skip
    assert not list(tmp_path.iterdir())
    np.savez(tmp_path / "odd.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match=r"unexpected keys \['weights'\]"):
        load_weights_npz(tmp_path / "odd.npz")
    half: dict[str, Any] = {"before/S1": np.ones(3), "after/S2": np.ones(3)}
    np.savez(tmp_path / "half.npz", **half)
    with pytest.raises(ValueError, match="differ from before/ layers"):
        load_weights_npz(tmp_path / "half.npz")
    with pytest.raises(FileNotFoundError):
        load_reconstructions_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "spikes.npz", format=np.array("spikedefense.spike_records"),
             times=np.arange(4))  # another kind of file  # fmt: skip
    with pytest.raises(ValueError, match=r"row 'format' is not a stack of images"):
        load_reconstructions_npz(tmp_path / "spikes.npz")


# --- raster at scale ------------------------------------------------------------------------


def test_raster_refuses_a_dense_array_by_name() -> None:
    with pytest.raises(TypeError, match=r"^records: expected a SpikeRecord .*from_dense"):
        raster_plot(np.zeros((5, 5), np.uint8))  # type: ignore[arg-type]


def test_raster_of_1e5_spikes_stays_small(tmp_path: Path) -> None:
    spikes = (np.random.default_rng(5).random((250, 800)) < 0.6).astype(np.uint8)
    rec = SpikeRecord.from_dense(spikes, name="S1")
    assert rec.count >= 100_000
    ax = raster_plot(rec, winners={"S1": np.array([[0, 1], [10, 20]])})
    assert len(ax.collections[0].get_offsets()) == rec.count  # every spike drawn
    out = save_figure(ax, tmp_path / "big.png")
    _assert_png(out)
    assert out.stat().st_size < 3_000_000


# --- imports and docstrings -----------------------------------------------------------------


def test_viz_import_loads_no_matplotlib() -> None:
    code = """
        import sys
        import spikedefense.viz, spikedefense.viz.files, spikedefense.snn
        print(sorted(m for m in ("matplotlib", "matplotlib.pyplot") if m in sys.modules))
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=tempfile.gettempdir())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- the plot command -----------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "spikedefense.cli", "plot", *args],
                          capture_output=True, text=True, timeout=300,
                          cwd=tempfile.gettempdir(), env=env)  # fmt: skip


def _results_folder(folder: Path) -> Path:
    from spikedefense.evaluation.records import Record, write_json

    records = [
        Record("mnist", clf, "defense-vae", "fgsm", eps, "gray-box", acc, 100, 0, "cmd")
        for clf in ("C1", "C2")
        for eps, acc in ((0.1, 90.0), (0.3, 60.0), (0.5, 20.0))
    ]
    records.append(Record("mnist", "C1", "none", "pgd", 0.3, "white-box", 5.0, 100, 0, "cmd"))
    write_json(records, folder / "sweep.json")
    return folder


def test_cli_plot_draws_every_kind(tmp_path: Path) -> None:
    records, winners = _records()
    save_records(tmp_path / "spikes.npz", records, winners)
    rng = np.random.default_rng(2)
    before = {f"S{i}": rng.normal(0, 0.1, 300) for i in range(1, 5)}
    save_weights_npz(tmp_path / "w.npz", before, {k: 1.3 * v for k, v in before.items()})
    save_reconstructions_npz(tmp_path / "r.npz", _rows(6))
    _results_folder(tmp_path)
    sizes = {}
    for kind, source, extra in (("raster", "spikes.npz", ()),
                                ("weights", "w.npz", ("--bins", "30")),
                                ("reconstructions", "r.npz", ("--n", "5", "--title", "t")),
                                ("curves", ".", ())):  # fmt: skip
        out = tmp_path / "figs" / f"{kind}.png"
        done = _cli(kind, str(tmp_path / source), "--out", str(out), *extra)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == f"{kind}: {out}"
        sizes[kind] = _assert_png(out)
    # Four weight panels side by side; two classifier panels for the curves.
    assert sizes["weights"][0] > 3 * sizes["weights"][1]
    assert sizes["curves"][0] > 1.5 * sizes["curves"][1]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "curves.png", "raster.png", "reconstructions.png", "weights.png"]  # fmt: skip


def test_cli_plot_errors_are_one_line(tmp_path: Path) -> None:
    save_reconstructions_npz(tmp_path / "r.npz", _rows(2))
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    out = str(tmp_path / "x.png")
    cases = [
        (("raster", str(tmp_path / "missing.npz"), "--out", out), "No such file"),
        (("weights", str(tmp_path / "r.npz"), "--out", out), "unexpected keys"),
        (("raster", str(tmp_path / "r.npz"), "--out", out), "not a spike-record file"),
        (("reconstructions", str(tmp_path / "garbage.npz"), "--out", out), "not a readable"),
        (("curves", str(tmp_path), "--out", out), "no ε sweep (sweep.json)"),
        (("reconstructions", str(tmp_path / "r.npz"), "--out", str(tmp_path)), "--out:"),
        (("weights", str(tmp_path / "r.npz"), "--out", out, "--bins", "0"), "positive integer"),
    ]
    for args, message in cases:
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
        if args[-2:] != ("--bins", "0"):  # argparse prints its usage first
            assert done.stderr.startswith("spikedefense plot: error: ")
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "x.png").exists()
