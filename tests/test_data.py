"""Tests for spikedefense.data: IDX I/O, dataset loading, and the embedded MNIST subset.

Tests that need the real MNIST / Fashion-MNIST files read them from $SPIKEDEFENSE_DATA and
skip (saying why) when it is unset; CI sets it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from spikedefense.data import DATASETS, load_idx_dataset, read_idx, resolve_data_dir, write_idx

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_embedded.py"
PREFIX = {"train": "train", "test": "t10k"}
N = {"train": 60000, "test": 10000}
# Label histograms and mean pixel values published in the data directory's README.md.
MNIST_HIST = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
MEAN_PIXEL = {
    ("mnist", "train"): 33.318,
    ("mnist", "test"): 33.791,
    ("fashion-mnist", "train"): 72.940,
    ("fashion-mnist", "test"): 73.147,
}
EMBEDDED_PER_CLASS = {"train": 500, "test": 100}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    value = os.environ.get("SPIKEDEFENSE_DATA")
    if not value:
        pytest.skip("SPIKEDEFENSE_DATA is unset: the real MNIST/Fashion-MNIST files are needed")
    return Path(value)


@pytest.fixture(scope="module")
def mnist(data_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {split: load_idx_dataset("mnist", split, data_dir) for split in ("train", "test")}


def _naming(path: Path) -> str:
    return re.escape(str(path))


# --- read_idx on the real files ---------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("kind", ["images-idx3-ubyte", "labels-idx1-ubyte"])
def test_read_idx_real_file(data_dir: Path, name: str, split: str, kind: str) -> None:
    path = data_dir / name / f"{PREFIX[split]}-{kind}.gz"
    raw = gzip.decompress(path.read_bytes())
    array = read_idx(path)
    is_images = kind.startswith("images")
    magic, *dims = struct.unpack(">4I" if is_images else ">2I", raw[: 16 if is_images else 8])
    assert magic == (2051 if is_images else 2049)
    assert array.shape == tuple(dims) == ((N[split], 28, 28) if is_images else (N[split],))
    assert array.dtype == np.uint8
    expected = np.frombuffer(raw, dtype=np.uint8, offset=16 if is_images else 8)
    np.testing.assert_array_equal(array.ravel(), expected)


def test_mnist_label_histograms_match_readme(mnist: dict) -> None:
    for split, hist in MNIST_HIST.items():
        assert np.bincount(mnist[split][1], minlength=10).tolist() == hist


def test_fashion_label_histograms(data_dir: Path) -> None:
    for split, per_class in (("train", 6000), ("test", 1000)):
        _, labels = load_idx_dataset("fashion-mnist", split, data_dir)
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10


@pytest.mark.parametrize(("name", "split"), sorted(MEAN_PIXEL))
def test_mean_pixel_matches_readme(data_dir: Path, name: str, split: str) -> None:
    images, _ = load_idx_dataset(name, split, data_dir)
    assert images.mean() == pytest.approx(MEAN_PIXEL[(name, split)], abs=5e-4)
    assert images.min() == 0 and images.max() == 255


# --- write_idx / read_idx round trip ----------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-128, -1, 0, 127], dtype=np.int8),
        np.array([[-300, 2], [32767, -32768]], dtype=np.int16),
        np.array([-(2**31), 2**31 - 1, 70000], dtype=">i4"),
        np.array([0.5, -1e30, np.inf], dtype=np.float32),
        np.array([[np.pi, -2.5e-300]], dtype=np.float64),
        np.array(7, dtype=np.uint8),
        np.zeros((0, 28, 28), dtype=np.uint8),
    ],
    ids=lambda a: f"{a.dtype}-{a.ndim}d-{a.size}",
)
def test_write_read_roundtrip(tmp_path: Path, array: np.ndarray, suffix: str) -> None:
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_write_idx_is_deterministic_and_standard(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    a, b = tmp_path / "a.gz", tmp_path / "sub-b.gz"
    write_idx(a, array)
    write_idx(b, array)
    data = a.read_bytes()
    assert data == b.read_bytes()
    flags, mtime = data[3], struct.unpack("<I", data[4:8])[0]
    assert flags == 0, "no FNAME (or other) field in the gzip header"
    assert mtime == 0
    raw = gzip.decompress(data)
    assert raw[:16] == struct.pack(">4I", 2051, 5, 28, 28)
    assert raw[16:] == array.tobytes()


def test_write_idx_rejects_unsupported_dtype(tmp_path: Path) -> None:
    path = tmp_path / "x.idx"
    with pytest.raises(TypeError, match="int64"):
        write_idx(path, np.zeros(3, dtype=np.int64))
    assert not path.exists()


# --- read_idx errors --------------------------------------------------------------------


def test_read_idx_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match=_naming(path)):
        read_idx(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"\x00\x00", "bad IDX magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00\x00", "type code 0x07"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03" + struct.pack(">2I", 2, 28), "truncated header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00\x00", "truncated payload"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00" * 4, "oversized payload"),
        (b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + b"\x00" * 3, "truncated payload"),
    ],
    ids=["magic", "type", "short", "header", "truncated", "oversized", "int16-odd"],
)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_bad_file(tmp_path: Path, content: bytes, message: str, gz: bool) -> None:
    path = tmp_path / ("bad.idx.gz" if gz else "bad.idx")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_real_payload(tmp_path: Path) -> None:
    good = tmp_path / "good.idx"
    write_idx(good, np.ones((4, 28, 28), dtype=np.uint8))
    path = tmp_path / "cut.idx"
    path.write_bytes(good.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"truncated payload.*needs 3136 bytes.*found 3135"):
        read_idx(path)


def test_read_idx_bad_gzip_stream(tmp_path: Path) -> None:
    good = tmp_path / "good.idx.gz"
    write_idx(good, np.arange(1000, dtype=np.int32))
    cut = tmp_path / "cut.idx.gz"
    cut.write_bytes(good.read_bytes()[:-20])
    not_gz = tmp_path / "plain.idx.gz"
    not_gz.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x05")
    for path in (cut, not_gz):
        with pytest.raises(ValueError, match=_naming(path)):
            read_idx(path)


# --- resolve_data_dir / load_idx_dataset ------------------------------------------------


def test_resolve_data_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "arg").mkdir()
    monkeypatch.setenv("SPIKEDEFENSE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"


def test_resolve_data_dir_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKEDEFENSE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SPIKEDEFENSE_DATA") as info:
        resolve_data_dir()
    assert "data_dir" in str(info.value) and "<dir>/mnist/" in str(info.value)


def test_resolve_data_dir_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(FileNotFoundError, match=_naming(missing)):
        resolve_data_dir(missing)
    monkeypatch.setenv("SPIKEDEFENSE_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="SPIKEDEFENSE_DATA"):
        resolve_data_dir()


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="dataset name 'cifar10'") as info:
        load_idx_dataset("cifar10")
    for choice in DATASETS:
        assert choice in str(info.value)


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split 'validation'") as info:
        load_idx_dataset("embedded", "validation")
    assert "train" in str(info.value) and "test" in str(info.value)


def _fake_dataset(root: Path, n_images: int = 6, n_labels: int = 6, side: int = 28) -> Path:
    folder = root / "mnist"
    folder.mkdir(parents=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.full((n_images, side, side), 3, np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_labels, dtype=np.uint8))
    return folder


def test_load_from_data_dir(tmp_path: Path) -> None:
    _fake_dataset(tmp_path)
    images, labels = load_idx_dataset("mnist", "test", tmp_path)
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 3, 4, 5]


def test_load_missing_file_lists_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_idx_dataset("fashion-mnist", "train", tmp_path)
    message = str(info.value)
    folder = tmp_path / "fashion-mnist"
    assert str(folder / "train-images-idx3-ubyte.gz") in message
    assert str(folder / "train-images-idx3-ubyte") + "." in message
    assert "<dir>/mnist/" in message and "<dir>/fashion-mnist/" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_labels": 5}, "6 images but .* 5 labels"),
        ({"side": 14}, "28x28"),
    ],
)
def test_load_rejects_inconsistent_files(tmp_path: Path, kwargs: dict, message: str) -> None:
    _fake_dataset(tmp_path, **kwargs)
    with pytest.raises(ValueError, match=message):
        load_idx_dataset("mnist", "test", tmp_path)


def test_load_rejects_wrong_magic(tmp_path: Path) -> None:
    folder = _fake_dataset(tmp_path)
    images = folder / "t10k-images-idx3-ubyte.gz"
    write_idx(images, np.zeros(6, dtype=np.uint8))  # a label-shaped file (magic 2049)
    with pytest.raises(ValueError, match=r"magic 2051.*found magic 2049") as info:
        load_idx_dataset("mnist", "test", tmp_path)
    assert str(images) in str(info.value)


# --- the embedded subset ----------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test"])
def test_embedded_subset(split: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKEDEFENSE_DATA", raising=False)
    images, labels = load_idx_dataset("embedded", split)
    per_class = EMBEDDED_PER_CLASS[split]
    assert images.shape == (10 * per_class, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10 * per_class,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
    assert images.min() == 0 and images.max() == 255
    assert len({row.tobytes() for row in images}) > 0.99 * len(images), "images look repeated"


def test_embedded_folder_is_package_data() -> None:
    folder = files("spikedefense.data") / "embedded"
    names = sorted(entry.name for entry in folder.iterdir())
    assert names == [
        "README.md",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert sum(len((folder / n).read_bytes()) for n in names) < 2_000_000
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for needed in ("CC BY-SA 3.0", "Yann LeCun", "default_rng(seed=0)", "--check"):
        assert needed in readme
    assert str(SCRIPT.parents[1]) not in readme, "README must not hold machine paths"


@pytest.mark.parametrize("split", ["train", "test"])
def test_embedded_images_are_real_mnist(mnist: dict, split: str) -> None:
    real_images, real_labels = mnist[split]
    real: dict[bytes, set[int]] = {}
    for row, label in zip(real_images, real_labels, strict=True):
        real.setdefault(hashlib.sha1(row.tobytes()).digest(), set()).add(int(label))
    images, labels = load_idx_dataset("embedded", split)
    for i, (row, label) in enumerate(zip(images, labels, strict=True)):
        found = real.get(hashlib.sha1(row.tobytes()).digest())
        assert found is not None, f"embedded {split} image {i} is not in real MNIST {split}"
        assert int(label) in found, f"embedded {split} image {i} has label {label}, not {found}"


def test_embedded_follows_documented_selection_rule(mnist: dict) -> None:
    rng = np.random.default_rng(seed=0)
    for split in ("train", "test"):
        real_images, real_labels = mnist[split]
        picks = [
            rng.choice(np.flatnonzero(real_labels == c), EMBEDDED_PER_CLASS[split], replace=False)
            for c in range(10)
        ]
        chosen = np.sort(np.concatenate(picks))
        images, labels = load_idx_dataset("embedded", split)
        np.testing.assert_array_equal(images, real_images[chosen])
        np.testing.assert_array_equal(labels, real_labels[chosen])


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_build_embedded_check_passes(data_dir: Path) -> None:
    result = _run_script("--check", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches a fresh build" in result.stdout


def test_build_embedded_check_detects_changes(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "embedded"
    shutil.copytree(Path(str(files("spikedefense.data") / "embedded")), copy)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.flip(read_idx(labels)))
    (copy / "__init__.py").write_text("")
    result = _run_script("--check", "--data-dir", str(data_dir), "--embedded-dir", str(copy))
    assert result.returncode == 1
    assert str(labels) in result.stderr and "__init__.py" in result.stderr


def test_build_embedded_rejects_non_canonical_source(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split in ("train", "test"):
        write_idx(folder / f"{PREFIX[split]}-images-idx3-ubyte.gz", np.zeros((10, 28, 28), "u1"))
        write_idx(folder / f"{PREFIX[split]}-labels-idx1-ubyte.gz", np.arange(10, dtype="u1"))
    out = tmp_path / "out"
    result = _run_script("--data-dir", str(tmp_path), "--embedded-dir", str(out))
    assert result.returncode == 2
    assert "not the canonical MNIST md5" in result.stderr
    assert not any(out.iterdir())


def test_data_modules_do_not_import_torch() -> None:
    code = "import sys, spikedefense.data; sys.exit('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], timeout=120, cwd=tempfile.gettempdir())
    assert proc.returncode == 0
