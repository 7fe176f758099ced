"""ConvVAE and classifier geometry, checkpoints, seeded and resumable training, dataset tensors."""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import nn

from spikedefense.data import load_dataset
from spikedefense.models import (
    ConvVAE,
    accuracy,
    load_checkpoint,
    make_classifier,
    save_checkpoint,
    train_classifier,
    train_vae,
)


def test_load_dataset_tensors():
    x, y = load_dataset("embedded", "train")
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (5000,) and y.dtype == torch.int64
    assert 0.0 == x.min() and x.max() == 1.0
    assert sorted(y.unique().tolist()) == list(range(10))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_load_dataset_real(name):
    if not os.environ.get("SPIKEDEFENSE_DATA"):
        pytest.skip("SPIKEDEFENSE_DATA not set")
    x, y = load_dataset(name, "test")
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset name"):
        load_dataset("cifar")
    with pytest.raises(FileNotFoundError, match="looked at"):
        load_dataset("mnist", "test", data_dir=tmp_path)


def test_vae_geometry():
    vae = ConvVAE()
    shapes = []
    h = torch.zeros(2, 1, 28, 28)
    for block in vae.encoder:
        h = block(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(64, 28, 28), (64, 16, 16), (128, 8, 8), (256, 4, 4)]
    convs = [b[0] for b in vae.encoder]
    assert all(c.bias is None for c in convs)
    assert [(c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs] == [
        (5, 1, 2), (4, 2, 3), (4, 2, 1), (4, 2, 1)
    ]  # fmt: skip
    vae.eval()
    recon, mu, logvar = vae(torch.rand(3, 1, 28, 28))
    assert recon.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 128)
    assert (recon > 0).all() and (recon < 1).all()
    assert torch.equal(vae.reconstruct(torch.ones(1, 1, 28, 28)), vae(torch.ones(1, 1, 28, 28))[0])


def test_vae_samples_only_in_training():
    vae = ConvVAE(latent_dim=8)
    x = torch.rand(4, 1, 28, 28)
    vae.eval()
    assert torch.equal(vae(x)[0], vae(x)[0])
    vae.train()
    torch.manual_seed(0)
    a = vae(x)[0]
    assert not torch.equal(a, vae(x)[0])


def test_vae_bad_latent():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="latent_dim"):
            ConvVAE(latent_dim=bad)


@pytest.mark.parametrize(
    ("name", "params"),
    [("C1", 1 * 64 * 64 + 64 + 64 * 128 * 36 + 128 + 128 * 128 * 25 + 128 + 512 * 10 + 10),
     ("C2", 128 * 9 + 128 + 128 * 128 * 25 + 128 + 18432 * 128 + 128 + 1290),
     ("C3", 784 * 200 + 200 + 200 * 200 + 200 + 2010),
     ("C4", 784 * 200 + 200 + 200 * 200 + 200 + 2010)],
)  # fmt: skip
def test_classifier_geometry(name, params):
    model = make_classifier(name).eval()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert sum(p.numel() for p in model.parameters()) == params
    dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts == {"C1": [0.2, 0.5], "C2": [0.25, 0.5], "C3": [0.5, 0.25], "C4": []}[name]


def test_unknown_classifier():
    with pytest.raises(ValueError, match="C1, C2, C3, C4"):
        make_classifier("C9")


def test_checkpoint_round_trip(tmp_path):
    vae = ConvVAE(latent_dim=8)
    vae.encoder[0][1].running_mean.normal_()
    save_checkpoint(tmp_path / "v", vae, {"kind": "vae", "config": {"latent_dim": 8}})
    other = ConvVAE(latent_dim=8)
    meta = load_checkpoint(tmp_path / "v", other)
    assert meta["kind"] == "vae"
    for (k, a), (_, b) in zip(vae.state_dict().items(), other.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json", "v.safetensors"]
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(tmp_path / "v", ConvVAE(latent_dim=9))
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_checkpoint(tmp_path / "nope", other)


def _data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_training_is_seeded_and_resumes_exactly(tmp_path):
    x, y = _data()
    runs = {}
    for tag in ("a", "b"):
        torch.manual_seed(1)
        model = make_classifier("C3")
        train_classifier(model, x, y, epochs=3, batch_size=32, seed=5, progress=False)
        runs[tag] = model.state_dict()
    # Interrupted after one epoch, then resumed from the checkpoint by a fresh process state.
    torch.manual_seed(1)
    model = make_classifier("C3")
    stem = tmp_path / "c3"
    train_classifier(model, x, y, epochs=1, batch_size=32, seed=5, checkpoint=stem,
                     progress=False)  # fmt: skip
    meta = json.loads((tmp_path / "c3.json").read_text())
    meta["epochs"] = 3
    (tmp_path / "c3.json").write_text(json.dumps(meta))
    torch.manual_seed(123)
    resumed = make_classifier("C3")
    history = train_classifier(resumed, x, y, epochs=3, batch_size=32, seed=5, checkpoint=stem,
                               progress=False)  # fmt: skip
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert all(h["seconds"] > 0 for h in history)
    for key, value in runs["a"].items():
        assert torch.equal(value, runs["b"][key])
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert json.loads((tmp_path / "c3.json").read_text())["complete"] is True
    # A completed checkpoint returns at once without changing the weights.
    before = {k: v.clone() for k, v in resumed.state_dict().items()}
    train_classifier(resumed, x, y, epochs=3, batch_size=32, seed=5, checkpoint=stem,
                     progress=False)  # fmt: skip
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in before.items())


def test_classifier_learns_embedded():
    x, y = load_dataset("embedded", "train")
    xt, yt = load_dataset("embedded", "test")
    torch.manual_seed(0)
    model = make_classifier("C3")
    train_classifier(model, x, y, epochs=2, seed=0, progress=False)
    assert not model.training
    assert accuracy(model, xt, yt) > 85.0


def test_vae_training_lowers_loss():
    x, _ = _data(64)
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=8)
    history = train_vae(vae, x, x, epochs=2, batch_size=32, seed=0, progress=False)
    assert history[1]["loss"] < history[0]["loss"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"), ({"lr": float("nan")}, "lr")],
)
def test_training_bad_arguments(kwargs, match):
    x, y = _data(8)
    model = make_classifier("C4")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    args = {"epochs": 1, "batch_size": 4, "lr": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_classifier(model, x, y, progress=False, **args)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_training_bad_data():
    x, y = _data(8)
    model = make_classifier("C4")
    with pytest.raises(ValueError, match="rows"):
        train_classifier(model, x, y[:5], epochs=1, progress=False)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train_classifier(model, bad, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_classifier(model, x[:0], y[:0], epochs=1, progress=False)
    with pytest.raises(ValueError, match="differ"):
        train_vae(ConvVAE(8), x, x[:4], epochs=1, progress=False)


def test_resume_refuses_another_run(tmp_path):
    x, y = _data(16)
    model = make_classifier("C4")
    train_classifier(model, x, y, epochs=1, batch_size=8, seed=3, checkpoint=tmp_path / "c",
                     progress=False)  # fmt: skip
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="seed: saved 3, now 99"):
        train_classifier(model, x, y, epochs=2, batch_size=8, seed=99,
                         checkpoint=tmp_path / "c", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="n: saved 16, now 8"):
        train_classifier(model, x[:8], y[:8], epochs=2, batch_size=8, seed=3,
                         checkpoint=tmp_path / "c", progress=False)  # fmt: skip
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_interrupted_checkpoint_write_is_detected(tmp_path):
    model = make_classifier("C4")
    save_checkpoint(tmp_path / "c", model, {"epochs_done": 2})
    meta = json.loads((tmp_path / "c.json").read_text())
    meta["epochs_done"] = 1  # the JSON of the previous epoch, as after a crash between writes
    (tmp_path / "c.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="interrupted"):
        load_checkpoint(tmp_path / "c", make_classifier("C4"))


def test_trailing_batch_of_one_is_skipped():
    vae = ConvVAE(latent_dim=4)
    x = torch.rand(9, 1, 28, 28)
    history = train_vae(vae, x, x, epochs=1, batch_size=4, progress=False)
    assert history[0]["loss"] > 0


def test_atomic_writes_leave_ordinary_files(tmp_path):
    save_checkpoint(tmp_path / "c", make_classifier("C4"), {"kind": "classifier"})
    umask = os.umask(0)
    os.umask(umask)
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
