"""The CIFAR-10 path: the standard python batches read from a user folder, and Memory Defense's
3-channel model trained on them (tiny files written in that format; no CIFAR-10 results)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from spikedefense.data import load_dataset, read_cifar10, write_cifar10_batch
from spikedefense.models.memory import MemoryAutoencoder, latent_size
from spikedefense.models.memory_train import (
    MemorySettings,
    train_memory_autoencoder,
    train_selector,
)


class _MakesFolder:
    """Unpickling this calls ``os.mkdir(path)``: what a hostile batch file could do."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return os.mkdir, (self.path,)


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        labels = [(i + k) % 10 for k in range(8)]
        write_cifar10_batch(folder / f"data_batch_{i}", _images(8, i), labels)
    write_cifar10_batch(folder / "test_batch", _images(10, 0), list(range(10)))
    return root


def test_the_batches_read_as_channel_planes(cifar_dir: Path) -> None:
    x, y = load_dataset("cifar10", "train", cifar_dir)
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y[:8].tolist() == [(1 + k) % 10 for k in range(8)]
    # the stored row is the red plane, then green, then blue, each row-major
    with (cifar_dir / "cifar-10-batches-py" / "data_batch_2").open("rb") as handle:
        raw = pickle.load(handle, encoding="bytes")[b"data"]
    assert x[8, 1, 2, 5] == pytest.approx(raw[0, 1024 + 2 * 32 + 5] / 255)
    assert x[8, 2, 31, 0] == pytest.approx(raw[0, 2048 + 31 * 32] / 255)
    tx, ty = load_dataset("cifar10", "test", cifar_dir / "cifar-10-batches-py")
    assert tx.shape == (10, 3, 32, 32) and ty.tolist() == list(range(10))
    images, labels = read_cifar10(cifar_dir, "test")
    assert images.dtype == np.uint8 and np.array_equal(images, _images(10, 0))


def test_bad_batches_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="looked for test_batch"):
        load_dataset("cifar10", "test", tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="test_batch: not a CIFAR-10 python batch"):
        read_cifar10(tmp_path, "test")
    marker = tmp_path / "ran"
    (tmp_path / "test_batch").write_bytes(pickle.dumps(_MakesFolder(marker), protocol=2))
    with pytest.raises(ValueError, match=r"refused to load posix\.mkdir"):
        read_cifar10(tmp_path, "test")
    assert not marker.exists()  # the pickle's call was refused, not run
    batch = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match=r"b'data' uint8 \[N, 3072\]"):
        read_cifar10(tmp_path, "test")
    write_cifar10_batch(tmp_path / "test_batch", _images(2, 1), [3, 12])
    with pytest.raises(ValueError, match="labels must lie in 0"):
        read_cifar10(tmp_path, "test")
    write_cifar10_batch(tmp_path / "test_batch", _images(2, 1), [3, 4])
    with pytest.raises(FileNotFoundError, match="data_batch_1 is missing"):
        read_cifar10(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        read_cifar10(tmp_path, "val")
    with pytest.raises(ValueError, match=r"images: expected uint8 \[N, 3, 32, 32\]"):
        write_cifar10_batch(tmp_path / "x", np.zeros((2, 1, 28, 28), np.uint8), [0, 1])
    with pytest.raises(ValueError, match="dataset name 'cifar'.*cifar10"):
        load_dataset("cifar", "test", tmp_path)


def test_the_three_channel_model_has_table_4s_shapes() -> None:
    model = MemoryAutoencoder(slots=20, keep=2, image_shape=(3, 32, 32)).eval()
    assert latent_size((3, 32, 32)) == 256 * 28 * 28 and model.memory.memory.shape == (20, 200704)
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32), torch.eye(10)[[4, 9]])
        logits = model.classify(out.target)
    assert out.target.shape == (2, 3, 32, 32) and logits.shape == (2, 10)
    assert int((out.weights > 0).sum(1).max()) == 2
    assert bool((out.weights[0, 8:10] > 0).all())  # class 4 owns slots 8 and 9
    with pytest.raises(ValueError, match=r"x: expected images \[B, 3, 32, 32\]"):
        model(torch.rand(2, 1, 28, 28), torch.eye(10)[[4, 9]])
    with pytest.raises(ValueError, match="image_shape: expected one of"):
        MemoryAutoencoder(image_shape=(3, 28, 28))


def test_memory_defense_trains_on_cifar_batches(cifar_dir: Path, tmp_path: Path) -> None:
    from spikedefense.defenses.memory import MemoryDefenseModel

    x, y = load_dataset("cifar10", "train", cifar_dir)
    vx, vy = load_dataset("cifar10", "test", cifar_dir)
    selector, _ = train_selector(x, y, (vx, vy), epochs=1, progress=False)
    settings = MemorySettings(slots=20, keep=2, epochs=1, batch_size=20)
    autoencoder, history = train_memory_autoencoder(x, y, settings, validation=(vx, vy),
                                                    selector=selector, progress=False,
                                                    checkpoint=tmp_path / "ae")  # fmt: skip
    assert autoencoder.image_shape == (3, 32, 32) and len(history) == 1
    pipeline = MemoryDefenseModel(selector, autoencoder)
    with torch.no_grad():
        assert pipeline(vx).shape == (10, 10)
    with pytest.raises(ValueError, match=r"x: expected images \[B, 3, 32, 32\]"):
        pipeline(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="images: expected"):
        train_memory_autoencoder(torch.rand(4, 3, 28, 28), y[:4], settings, progress=False)


def test_memory_table_accepts_cifar10() -> None:
    from spikedefense.cli import build_parser

    args = build_parser().parse_args(["memory-table", "--dataset", "cifar10", "--out", "o"])
    assert args.dataset == "cifar10"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dim-table", "--dataset", "cifar10", "--out", "o"])
