"""General ANN -> SNN conversion: round trip, rates approaching the ANN, chains, refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from spikedefense.convert import ConvertedChain, SpikingNetwork, from_spiking, to_spiking
from spikedefense.models.dim import make_denoiser, make_internal_model


def _randomise_bn(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (one channel with scale 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.2)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.weight[0] = 0.0
                    m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.num_batches_tracked.fill_(int(torch.randint(1, 100, (1,), generator=g)))
    return model.eval()


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _randomise_bn(nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5)), seed)  # fmt: skip


def _convnet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _randomise_bn(nn.Sequential(
        nn.Conv2d(1, 6, 3, 1, 1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8, affine=False), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 12), nn.ReLU(), nn.Unflatten(1, (3, 2, 2)),
        nn.ConvTranspose2d(3, 2, 4, 2, 1), nn.Sigmoid()), seed)  # fmt: skip


class Wrapped(nn.Module):
    """A module whose forward is a chain, with functional calls, a shared ReLU and a view."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.BatchNorm2d(4))
        self.act = nn.ReLU()
        self.head = nn.Linear(4 * 4 * 4, 8)
        self.out = nn.Linear(8, 3)
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.encoder(x))
        h = h.view(h.size(0), -1)
        return self.out(torch.relu(self.head(h)))


MODELS = {
    "mlp": (_mlp, (1, 8, 8)),
    "convnet": (_convnet, (1, 8, 8)),
    "wrapped": (lambda seed: _randomise_bn((torch.manual_seed(seed), Wrapped())[1], seed),
                (1, 8, 8)),
}  # fmt: skip


def _images(shape: tuple[int, ...], n: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 3])
def test_round_trip_gives_the_same_weights_and_outputs(name: str, seed: int) -> None:
    build, shape = MODELS[name]
    model = build(seed)
    net = to_spiking(model, _images(shape))
    back = from_spiking(net)
    original = {k: v for k, v in model.state_dict().items() if not k.startswith("unused")}
    rebuilt = back.state_dict()
    assert sorted(rebuilt) == sorted(original)
    for key, value in original.items():
        got = rebuilt[key]
        if value.is_floating_point():
            err = (got - value).abs().max() / value.abs().max().clamp_min(1e-12)
            assert float(err) <= 1e-6, key
        else:
            assert torch.equal(got, value), key
    x = _images(shape, 8, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=1e-5, atol=1e-6)


def test_a_sequential_comes_back_as_a_sequential_and_a_module_as_a_chain() -> None:
    assert type(from_spiking(to_spiking(_mlp(0), _images((1, 8, 8))))) is nn.Sequential
    back = from_spiking(to_spiking(MODELS["wrapped"][0](0), _images((1, 8, 8))))
    assert isinstance(back, ConvertedChain) and isinstance(back.encoder, nn.Sequential)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_spiking_output_approaches_the_ann_as_steps_grow(name: str) -> None:
    build, shape = MODELS[name]
    model = build(1)
    calibration = _images(shape)
    net = to_spiking(model, calibration, percentile=100)
    x = calibration[:16]
    with torch.no_grad():
        ref = model(x)
    errors = [float(((net.run(x, t, record=False).rates - ref) ** 2).mean()) for t in (4, 64, 512)]
    assert errors[2] < errors[0] and errors[2] < 0.25 * errors[0], errors
    assert errors[2] < 0.01 * float((ref**2).mean()) + 1e-4, errors


def test_dim_autoencoders_convert_and_run() -> None:
    for model in (make_denoiser(), make_internal_model()):
        model = _randomise_bn(model, 2)
        x = _images((1, 28, 28), 8)
        net = to_spiking(model, x)
        out = net.run(x[:2], 8)
        assert tuple(out.rates.shape) == (2, 1, 28, 28)
        assert sorted(out.records) == sorted(layer.name for layer in net.layers if layer.spiking)


def test_outputs_records_and_counts() -> None:
    net = to_spiking(_mlp(0), _images((1, 8, 8)))
    x = _images((1, 8, 8), 5, seed=2)
    out = net.run(x, 16, seed=3, batch_size=2)
    whole = net.run(x, 16, seed=3, batch_size=64)
    assert torch.equal(out.rates, whole.rates) and torch.equal(out.counts, whole.counts)
    for name, record in whole.records.items():
        np.testing.assert_array_equal(out.records[name].to_dense(), record.to_dense())
        assert record.shape[0] == 5
    # the output layer is a readout: counts are those of the last spiking layer ("5")
    last = whole.records["5"].to_dense().sum(0)
    np.testing.assert_array_equal(whole.counts.numpy(), last)
    assert not torch.equal(net.run(x, 16, seed=4).rates, whole.rates)


def test_a_spiking_output_layer_gives_rates_from_its_own_counts() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 6), nn.ReLU()).eval()
    net = to_spiking(model, _images((1, 8, 8)))
    out = net.run(_images((1, 8, 8), 3), 20)
    scale = net.layers[-1].scale
    torch.testing.assert_close(out.rates, out.counts.float() / 20 * scale)


def test_cuda_gives_the_cpu_spikes(cuda_backend: str) -> None:
    net = to_spiking(_convnet(0), _images((1, 8, 8)))
    x = _images((1, 8, 8), 3)
    cpu, gpu = net.run(x, 6, backend="cpu"), net.run(x, 6, backend=cuda_backend)
    torch.testing.assert_close(gpu.rates, cpu.rates)
    assert torch.equal(gpu.counts, cpu.counts)


def test_the_vae_converter_uses_the_same_layers() -> None:
    from spikedefense.convert import vae_to_svae
    from spikedefense.models import ConvVAE

    svae = vae_to_svae(ConvVAE(latent_dim=4).eval(), _images((1, 28, 28), 4))
    assert svae["S2"].in_shape == (64, 28, 28) and svae["D0"].in_shape == (4,)


class Skip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + x


@pytest.mark.parametrize(("model", "match"), [
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.Tanh()),
     r"unsupported layer Tanh at position 2"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2)), "dilation"),
    (nn.Sequential(nn.Flatten(), nn.ReLU(), nn.BatchNorm1d(64)), "BatchNorm1d at position 2"),
    (nn.Sequential(nn.Linear(8, 4)), r"layer '0' \(linear\) gets input of shape"),
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.ReLU(), nn.Sigmoid()),
     "Sigmoid at position 3"),
    (nn.Sequential(nn.ReLU(), nn.Flatten()), "no Conv2d"),
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.BatchNorm1d(4, track_running_stats=False)),
     "running statistics"),
    (nn.Sequential(nn.AvgPool2d(2, ceil_mode=True)), "ceil_mode"),
])  # fmt: skip
def test_unsupported_models_are_refused_by_name(model: nn.Module, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_spiking(model.eval(), _images((1, 8, 8)))


def test_a_skip_connection_is_refused() -> None:
    with pytest.raises(ValueError, match="not a feed-forward chain"):
        to_spiking(Skip(), torch.rand(4, 4))


@pytest.mark.parametrize(("images", "error", "match"), [
    (torch.rand(0, 1, 8, 8), ValueError, "calibration_images"),
    (torch.full((2, 1, 8, 8), float("nan")), ValueError, "NaN"),
    (torch.rand(2, 1, 8, 8) + 1, ValueError, r"\[0, 1\]"),
    (np.zeros((2, 1, 8, 8)), TypeError, "calibration_images"),
])  # fmt: skip
def test_bad_calibration_images(images: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_spiking(_mlp(0), images)  # type: ignore[arg-type]


def test_bad_run_arguments_change_nothing() -> None:
    net = to_spiking(_mlp(0), _images((1, 8, 8)))
    x = _images((1, 8, 8), 2)
    for steps in (0, -1):
        with pytest.raises(ValueError, match="steps"):
            net.run(x, steps)
    with pytest.raises(ValueError, match=r"images: expected shape \[N, 1, 8, 8\]"):
        net.run(torch.rand(2, 1, 9, 9), 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net.run(x * 2 + 0.1, 4)
    with pytest.raises(ValueError, match="thresholds"):
        net.run(x, 4, thresholds={"nope": 1.0})
    with pytest.raises(TypeError, match="module"):
        to_spiking("model", x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="percentile"):
        to_spiking(_mlp(0), x, percentile=0)
    with pytest.raises(TypeError, match="net"):
        from_spiking("net")  # type: ignore[arg-type]
    assert isinstance(net, SpikingNetwork)


def test_the_callers_model_is_left_as_it_was() -> None:
    model = _mlp(0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    to_spiking(model, _images((1, 8, 8)))
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_nir_export_writes_every_layer_and_dense_deconvs_are_exact(tmp_path: Any) -> None:
    import nir

    from spikedefense.convert import to_nir

    model = _randomise_bn(make_internal_model(), 4)
    net = to_spiking(model, _images((1, 28, 28), 16))
    graph = to_nir(net)
    spiking = [layer.name for layer in net.layers if layer.spiking]
    assert [n for n in graph.nodes if n.endswith("_if")] == [f"{n}_if" for n in spiking]
    deconv = next(layer for layer in net.layers if layer.kind == "deconv")
    node = graph.nodes[f"{deconv.name}_syn"]
    v = torch.rand(1, *deconv.in_shape, dtype=torch.float64)
    ref = torch.nn.functional.conv_transpose2d(
        v, torch.from_numpy(deconv.weight), torch.from_numpy(deconv.bias), deconv.stride,
        deconv.padding)  # threshold 1: the core's weight is W~
    got = node.weight.astype(np.float64) @ v.flatten().numpy() + node.bias
    np.testing.assert_allclose(got, ref.flatten().numpy(), rtol=1e-5, atol=1e-5)
    nir.write(tmp_path / "f.nir", graph)
    assert sorted(nir.read(tmp_path / "f.nir").nodes) == sorted(graph.nodes)


def test_nir_export_refuses_what_it_cannot_express() -> None:
    from spikedefense.convert.nir_network import network_to_nir

    mid_readout = nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.Linear(4, 8), nn.ReLU())
    with pytest.raises(ValueError, match=r"layer '1': a readout inside"):
        network_to_nir(to_spiking(mid_readout.eval(), _images((1, 8, 8))))
    big = nn.Sequential(nn.ConvTranspose2d(1, 2, 4, 2, 1), nn.ReLU())
    with pytest.raises(ValueError, match=r"layer '0' \(deconv\).*max_dense"):
        network_to_nir(to_spiking(big.eval(), _images((1, 8, 8))), max_dense=100)
