"""to_snntorch / to_norse emit our core's spikes; to_nir's graph survives nir.write / nir.read.

Why two spike tests. Float32 addition is not associative: ``nn.Conv2d`` sums a receptive field in
another order than our event-driven kernels, and snnTorch's ``Leaky`` forms ``(v + I) - theta``
where we form ``(v - theta) + I``. A potential within a rounding error of the threshold can then
fire in one model and not the other, so bitwise equality of whole networks is only a theorem when
the arithmetic is exact. ``test_spikes_equal_when_arithmetic_is_exact`` therefore rounds the
converted weights to dyadic grids on which every sum both sides form is exact in float32, and
asserts *exact* equality of every layer; it also exercises ties (``v == theta`` exactly happens
on such grids). ``test_raw_network_spikes_agree`` runs the unrounded network and bounds the
mismatches by rounding flips. The neuron steps themselves are checked bit for bit separately.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from spikedefense.kernels import bernoulli_encode

from spikedefense.convert import SVAE, to_nir, to_norse, to_snntorch, vae_to_svae
from spikedefense.convert._export_torch import ExportOutput
from spikedefense.models import ConvVAE
from spikedefense.snn.layers import fire
from spikedefense.snn.network import SPIKING, SpikingVAE, SVAEOutput

STEPS = 16  # a power of two: spike rates k / T are exact binary fractions
SEED = 7
Exporter = Callable[..., torch.nn.Module]
EXPORTS: dict[str, Exporter] = {"snntorch": to_snntorch, "norse": to_norse}
#: Grid 2**-bits per layer. Encoder/decoder sums stay below 2**13 (exact with 2**-10 steps); the
#: D0 drive mu @ W + b then lies on 2**-(4 + 10 + 3) and its potentials on the same grid.
GRID_BITS = {"mu": 10, "D0": 3}


@pytest.fixture(scope="module")
def svae() -> SVAE:
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=8)
    with torch.no_grad():
        for module in vae.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return vae_to_svae(vae.eval(), torch.rand(32, 1, 28, 28))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def on_grid(svae: SVAE) -> SVAE:
    """Every layer but the D4 readout with weight and bias rounded to its dyadic grid."""
    layers = []
    for layer in svae:
        if layer.name != "D4":
            q = 2.0 ** GRID_BITS.get(layer.name, 10)
            layer = replace(
                layer, weight=np.round(layer.weight * q) / q, bias=np.round(layer.bias * q) / q
            )
        layers.append(layer)
    return replace(svae, layers=tuple(layers))


def run_both(
    export: Exporter, svae: SVAE, images: torch.Tensor, thresholds: dict[str, float] | None = None
) -> tuple[SVAEOutput, ExportOutput]:
    ours = SpikingVAE(svae, thresholds).run(images, STEPS, seed=SEED, record=True)
    spikes = torch.from_numpy(bernoulli_encode(images.numpy(), STEPS, seed=SEED))
    with torch.no_grad():
        theirs = export(svae, thresholds)(spikes)
    return ours, theirs


@pytest.mark.parametrize("library", sorted(EXPORTS))
def test_spikes_equal_when_arithmetic_is_exact(
    library: str, svae: SVAE, images: torch.Tensor
) -> None:
    exact = on_grid(svae)
    thresholds = {"S2": 0.5, "D2": 2.0}  # powers of two keep W * theta on the grid
    ours, theirs = run_both(EXPORTS[library], exact, images, thresholds)
    assert set(theirs.spikes) == set(SPIKING)
    for name in SPIKING:
        expected = ours.records[name].to_dense()
        got = theirs.spikes[name]
        assert got.dtype == torch.float32 and tuple(got.shape) == expected.shape, name
        assert expected.sum() > 0, f"{name} never fired: the comparison would be vacuous"
        assert np.array_equal(got.numpy().astype(np.uint8), expected), name
    assert torch.equal(theirs.mu, ours.mu)
    torch.testing.assert_close(theirs.reconstruction, ours.reconstruction, rtol=0, atol=1e-6)


def test_exact_network_exercises_ties(svae: SVAE, images: torch.Tensor) -> None:
    """On the grid, v == theta happens: snnTorch's stock surrogate (v > theta) would differ."""
    import snntorch

    model = to_snntorch(on_grid(svae))
    for neuron in model.neurons.values():
        neuron.spike_grad = snntorch.surrogate.atan()
    ours = SpikingVAE(on_grid(svae)).run(images, STEPS, seed=SEED, record=True)
    with torch.no_grad():
        stock = model(torch.from_numpy(bernoulli_encode(images.numpy(), STEPS, seed=SEED)))
    assert not np.array_equal(
        stock.spikes["S1"].numpy().astype(np.uint8), ours.records["S1"].to_dense()
    )


@pytest.mark.parametrize("library", sorted(EXPORTS))
def test_raw_network_spikes_agree(library: str, svae: SVAE, images: torch.Tensor) -> None:
    """Unrounded weights: only rounding flips (a few in a million neuron-steps) may differ."""
    ours, theirs = run_both(EXPORTS[library], svae, images)
    for name in SPIKING:
        expected = ours.records[name].to_dense()
        mismatched = int((theirs.spikes[name].numpy().astype(np.uint8) != expected).sum())
        assert mismatched <= 1e-4 * expected.size, (name, mismatched)
    torch.testing.assert_close(theirs.mu, ours.mu, rtol=0, atol=0.05)
    torch.testing.assert_close(theirs.reconstruction, ours.reconstruction, rtol=0, atol=0.05)


def _step_all(neuron: torch.nn.Module, currents: torch.Tensor, state: Any) -> np.ndarray:
    out = []
    with torch.no_grad():
        for current in currents:
            spikes, state = neuron(current, state)
            out.append(spikes)
    return torch.stack(out).numpy().astype(np.uint8)


def test_norse_neuron_equals_core_bit_for_bit() -> None:
    """Same currents, any float32 values: the Norse step does our arithmetic in our order."""
    from spikedefense.convert.to_norse import _cell

    currents = np.random.default_rng(3).normal(0.3, 0.7, (64, 5000)).astype(np.float32)
    for threshold in (1.0, 0.37):
        got = _step_all(_cell("S1", threshold), torch.from_numpy(currents), None)
        assert np.array_equal(got, fire(currents, threshold))


def test_snntorch_neuron_fires_at_ties_like_core() -> None:
    """Dyadic currents (exact sums): spikes equal ours, including v == theta exactly."""
    import snntorch

    from spikedefense.convert.to_snntorch import _leaky

    currents = np.random.default_rng(4).integers(-8, 24, (64, 5000)).astype(np.float32) / 16
    currents[:4, 0] = 0.25  # v reaches the threshold 1.0 exactly at step 3
    expected = fire(currents, 1.0)
    cur = torch.from_numpy(currents)
    got = _step_all(_leaky("S1", 1.0), cur, torch.zeros_like(cur[0]))
    assert np.array_equal(got, expected)
    assert expected[3, 0] == 1
    # snnTorch's stock surrogate fires on v > theta: it misses exactly those ties.
    stock = snntorch.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract")
    assert _step_all(stock, cur, torch.zeros_like(cur[0]))[3, 0] == 0


def test_nir_graph_round_trips(svae: SVAE, tmp_path: Path) -> None:
    nir = pytest.importorskip("nir")
    graph = to_nir(svae, thresholds={"S3": 0.5})
    path = tmp_path / "svae.nir"
    nir.write(path, graph)
    back = nir.read(path)
    assert isinstance(back, nir.NIRGraph)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(back.edges) == sorted(graph.edges)
    assert back.metadata == graph.metadata
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node), name
        assert other.metadata == node.metadata, name
        fields = {k: v for k, v in vars(node).items() if k != "metadata"}
        for key, value in fields.items():
            if isinstance(value, dict):  # input_type / output_type: {port: shape}
                assert set(getattr(other, key)) == set(value), (name, key)
                for port, shape in value.items():
                    np.testing.assert_array_equal(getattr(other, key)[port], shape)
            else:
                np.testing.assert_array_equal(
                    np.asarray(getattr(other, key)), np.asarray(value), err_msg=f"{name}.{key}"
                )
    core = SpikingVAE(svae, {"S3": 0.5}).layers
    for name in ("S1", "S2", "S3", "S4"):
        np.testing.assert_array_equal(back.nodes[f"{name}_conv"].weight, core[name].weight)
        np.testing.assert_array_equal(back.nodes[f"{name}_conv"].bias, core[name].bias)
        assert np.all(back.nodes[f"{name}_if"].v_threshold == core[name].threshold)
        assert back.nodes[f"{name}_if"].metadata["reset"] == "subtract"
    np.testing.assert_array_equal(back.nodes["mu"].weight, svae["mu"].weight)
    chain = ["input"] + [f"S{i}_{p}" for i in range(1, 5) for p in ("conv", "if")]
    chain += ["flatten", "mu", "output"]
    assert graph.edges == list(zip(chain[:-1], chain[1:], strict=True))


def test_nir_graph_loads_in_norse(svae: SVAE, tmp_path: Path) -> None:
    nir = pytest.importorskip("nir")
    norse = pytest.importorskip("norse.torch")
    nir.write(tmp_path / "g.nir", to_nir(svae))
    assert isinstance(norse.from_nir(nir.read(tmp_path / "g.nir")), torch.nn.Module)


@pytest.mark.parametrize("export", [to_snntorch, to_norse, to_nir])
@pytest.mark.parametrize("bad", [None, "svae", ConvVAE(latent_dim=8)])
def test_non_svae_is_a_type_error(export: Callable[..., Any], bad: Any) -> None:
    with pytest.raises(TypeError, match="svae: expected a spikedefense.convert.SVAE"):
        export(bad)


@pytest.mark.parametrize("export", [to_snntorch, to_norse, to_nir])
def test_unknown_threshold_layer_is_rejected(export: Callable[..., Any], svae: SVAE) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        export(svae, {"mu": 1.0})


@pytest.mark.parametrize("shape", [(4, 2, 28, 28), (4, 2, 1, 27, 28), (0, 2, 1, 28, 28)])
def test_bad_input_spikes(svae: SVAE, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="spikes: expected shape"):
        to_snntorch(svae)(torch.zeros(shape))
    with pytest.raises(TypeError, match="spikes"):
        to_norse(svae)(np.zeros((4, 2, 1, 28, 28)))


@pytest.mark.parametrize(
    ("export", "module"), [(to_snntorch, "snntorch"), (to_norse, "norse"), (to_nir, "nir")]
)
def test_missing_library_names_the_extra(
    export: Callable[..., Any], module: str, svae: SVAE, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"spikedefense\[export\]"):
        export(svae)
