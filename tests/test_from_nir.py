"""from_nir: NIR graphs run on the core as NIR's equations stepped by forward Euler say, our own
exported graphs come back to the spikes our core gives, and bad graphs are refused by name.

The reference below is written from NIR's node definitions (float64, torch's dense ops, one
Euler step of ``dt`` per step, firing on ``v > v_threshold``, reset to ``v_reset = 0``). With
dyadic weights, ``dt / tau = 1/2`` and ``dt r / tau`` on a grid, every sum both sides form is
exact, so the spike trains are asserted identical (ties ``v == v_threshold`` included).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from spikedefense.convert import from_nir, to_nir, to_spiking

nir = pytest.importorskip("nir")

STEPS = 16
DT = 2.0**-10  # tau = 2 dt: beta = 1/2


def _grid(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return (np.round(rng.normal(0, scale, shape) * 8) / 8).astype(np.float32)


def _lif(shape: tuple[int, ...], threshold: float = 1.0, tau: float = 2 * DT,
         r: float = 1.0) -> Any:  # fmt: skip
    return nir.LIF(tau=np.full(shape, tau), r=np.full(shape, r), v_leak=np.zeros(shape),
                   v_threshold=np.full(shape, threshold))  # fmt: skip


def _conv_graph() -> Any:
    rng = np.random.default_rng(0)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=_grid(rng, (3, 1, 3, 3), 1.5), stride=1,
                           padding=1, dilation=1, groups=1, bias=_grid(rng, (3,), 0.2)),
        "if": nir.IF(r=np.full((3, 8, 8), 2.0 ** 9), v_threshold=np.ones((3, 8, 8)),
                     v_reset=np.zeros((3, 8, 8))),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0),
        "fc": nir.Affine(weight=_grid(rng, (10, 48), 0.8), bias=_grid(rng, (10,), 0.2)),
        "lif": _lif((10,), threshold=1.0, r=2.0),
        "fc2": nir.Linear(weight=_grid(rng, (4, 10), 1.0)),
        "li": nir.LI(tau=np.full(4, 2 * DT), r=np.ones(4), v_leak=np.zeros(4)),
        "out": nir.Output(output_type={"output": np.array([4])}),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)))


def reference(graph: Any, spikes: np.ndarray, dt: float,
              ties: list[int] | None = None) -> tuple[dict[str, np.ndarray], Any]:  # fmt: skip
    """NIR's equations, forward Euler, float64: spikes per neuron node and the output; ``ties``
    (if given) gets the count of neuron-steps with ``v == v_threshold`` exactly."""
    names = [graph.edges[0][0]] + [dst for _, dst in graph.edges]
    state: dict[str, torch.Tensor] = {}
    recorded: dict[str, list[np.ndarray]] = {}
    outputs = []
    for s in torch.from_numpy(spikes.astype(np.float64)):
        x = s
        for name in names[1:-1]:
            node = graph.nodes[name]
            kind = type(node).__name__
            p = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in vars(node).items()
                 if isinstance(v, np.ndarray)}  # fmt: skip
            if kind in ("Affine", "Linear"):
                x = F.linear(x, p["weight"], p.get("bias"))
            elif kind == "Conv2d":
                x = F.conv2d(x, p["weight"], p["bias"], node.stride, node.padding)
            elif kind == "SumPool2d":
                x = F.avg_pool2d(x, 2, 2) * 4
            elif kind == "Flatten":
                x = x.reshape(len(x), -1)
            else:
                v = state.get(name, torch.zeros_like(x))
                if kind == "IF":
                    v = v + dt * p["r"] * x
                else:
                    v = v + dt / p["tau"] * ((p["v_leak"] - v) + p["r"] * x)
                if kind == "LI":
                    state[name], x = v, v
                    continue
                z = (v > p["v_threshold"]).double()
                if ties is not None:
                    ties.append(int((v == p["v_threshold"]).sum()))
                state[name] = torch.where(z > 0, torch.zeros_like(v), v)
                recorded.setdefault(name, []).append(z.numpy().astype(np.uint8))
                x = z
        outputs.append(x.numpy())
    return {k: np.stack(v) for k, v in recorded.items()}, np.stack(outputs)


def _input(shape: tuple[int, ...], rate: float = 0.4, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((STEPS, *shape)) < rate).astype(np.uint8)


def test_conv_graph_spikes_equal_nir_euler_reference() -> None:
    graph = _conv_graph()
    x = _input((3, 1, 8, 8))
    net = from_nir(graph, dt=DT)
    assert [layer.name for layer in net.layers] == ["if", "lif", "li"]
    assert net.layers[1].neuron.beta == 0.5 and net.layers[1].neuron.gain == 1.0
    ours = net.run(x)
    ties: list[int] = []
    want, out = reference(graph, x, DT, ties)
    assert sum(ties) > 0, "the grid should produce exact ties"
    for name, spikes in want.items():
        assert spikes.sum() > 0.05 * spikes.size, name
        assert np.array_equal(ours.records[name].to_dense(), spikes), name
    np.testing.assert_array_equal(ours.output, out.astype(np.float32))


def test_ties_fire_as_nir_says() -> None:
    """v reaches v_threshold exactly: NIR fires on v > v_threshold, so it does not fire."""
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.full((1, 1), 0.5, np.float32)),
                                   nir.IF(r=np.ones(1), v_threshold=np.ones(1),
                                          v_reset=np.zeros(1)))  # fmt: skip
    x = np.ones((STEPS, 1, 1), np.uint8)
    out = from_nir(graph, dt=1.0).run(x).output[:, 0, 0]
    want, _ = reference(graph, x, 1.0)
    assert out.tolist() == want["if"][:, 0, 0].tolist() == [0, 0, 1] * 5 + [0]


def test_our_exported_network_comes_back_to_our_spikes() -> None:
    """to_nir(SpikingNetwork) -> from_nir (dt = 1 by default): the IF nodes' metadata keep our
    semantics."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 12),
                                torch.nn.ReLU(), torch.nn.Linear(12, 4))  # fmt: skip
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    net = to_spiking(model, images)
    ours = net.run(images, steps=STEPS, seed=3)
    back = from_nir(to_nir(net))
    assert all(layer.neuron.reset == "subtract" and not layer.neuron.strict
               for layer in back.layers if layer.neuron is not None)  # fmt: skip
    got = back.run_images(images, STEPS, seed=3)
    for layer in net.layers[:-1]:
        name = f"{layer.name}_if"
        assert np.array_equal(got.records[name].to_dense(), ours.records[layer.name].to_dense())
    readout = got.output.mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(readout, ours.rates.numpy(), rtol=0, atol=1e-5)


def test_to_nir_of_from_nir_is_equivalent() -> None:
    graph = _conv_graph()
    back = to_nir(from_nir(graph, dt=DT))
    kinds = [type(graph.nodes[n]).__name__ for n in [graph.edges[0][0]] +
             [d for _, d in graph.edges]]  # fmt: skip
    assert [type(node).__name__ for node in back.nodes.values()] == kinds
    for name, node in graph.nodes.items():
        if name in ("in", "out"):
            continue
        other = back.nodes[name]
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and key not in ("input_shape",):
                np.testing.assert_allclose(np.asarray(getattr(other, key), np.float64),
                                           value, rtol=1e-12, err_msg=f"{name}.{key}")
    x = _input((2, 1, 8, 8), seed=5)
    a, b = from_nir(graph, dt=DT).run(x), from_nir(back, dt=DT).run(x)
    assert all(np.array_equal(a.records[k].to_dense(), b.records[k].to_dense()) for k in a.records)


def test_nir_file_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "g.nir"
    nir.write(path, _conv_graph())
    x = _input((2, 1, 8, 8), seed=6)
    a, b = from_nir(_conv_graph(), dt=DT).run(x), from_nir(nir.read(path), dt=DT).run(x)
    np.testing.assert_array_equal(a.output, b.output)


@pytest.mark.cudasim
def test_cuda_backend_gives_the_cpu_output(cuda_backend: str) -> None:
    rng = np.random.default_rng(7)
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=_grid(rng, (5, 6), 1.0), bias=_grid(rng, (5,), 0.2)), _lif((5,)),
        nir.Linear(weight=_grid(rng, (3, 5), 1.0)), _lif((3,), threshold=0.5))
    net = from_nir(graph, dt=DT)
    x = _input((2, 6))[:6]
    cpu, gpu = net.run(x, backend="cpu"), net.run(x, backend=cuda_backend)
    np.testing.assert_array_equal(gpu.output, cpu.output)
    want, _ = reference(graph, x, DT)
    assert all(np.array_equal(gpu.records[k].to_dense(), v) for k, v in want.items())
    conv = from_nir(_conv_graph(), dt=DT)  # conv, sum pool, IF / LIF / LI on a tiny input
    x = _input((1, 1, 8, 8))[:4]
    cpu, gpu = conv.run(x, backend="cpu"), conv.run(x, backend=cuda_backend)
    assert cpu.records["if"].count > 0
    np.testing.assert_array_equal(gpu.output, cpu.output)
    assert all(np.array_equal(gpu.records[k].to_dense(), cpu.records[k].to_dense())
               for k in cpu.records)  # fmt: skip


# --- bad input ---------------------------------------------------------------------------------

def _chain(*nodes: Any, edges: Any = None, check: bool = False) -> Any:
    named = {"in": nir.Input(input_type={"input": np.array([2])})}
    named.update({f"n{i}": node for i, node in enumerate(nodes)})
    named["out"] = nir.Output(output_type={"output": np.array([2])})
    names = list(named)
    edges = edges if edges is not None else list(zip(names[:-1], names[1:], strict=True))
    return nir.NIRGraph(nodes=named, edges=edges, type_check=check)


def _square() -> Any:
    return nir.Affine(weight=np.eye(2, dtype=np.float32), bias=np.zeros(2, np.float32))


@pytest.mark.parametrize(("graph", "match"), [
    (lambda: _chain(nir.Delay(delay=np.ones(2))), r"node 'n0': unsupported node type Delay"),
    (lambda: _chain(nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2),
                                v_leak=np.zeros(2), v_threshold=np.ones(2))),
     r"node 'n0': type CubaLIF \(a synaptic-current state\)"),
    (lambda: _chain(_square(), _lif((2,)), edges=[("in", "n0"), ("n0", "n1"), ("n1", "n0"),
                                                  ("n1", "out")]),
     r"cycle \(recurrent edge 'n1' -> 'n0'\)"),
    (lambda: _chain(_square(), _lif((2,)), edges=[("in", "n0"), ("n0", "n1"), ("n0", "out"),
                                                  ("n1", "out")]), "more than one edge"),
    (lambda: _chain(_square(), _lif((2,)), edges=[("in", "n0"), ("n0", "n1"), ("n1", "n0")]),
     r"cycle \(recurrent edge"),
    (lambda: _chain(_square(), edges=[("in", "n0"), ("n0", "n0"), ("n0", "out")]),
     r"node 'n0': a recurrent edge to itself"),
    (lambda: _chain(nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)), _lif((2,))),
     r"node 'n0' \(Affine\): weight \[2, 3\] does not fit the signal of shape \[2\]"),
    (lambda: _chain(_square(), _lif((3,))), r"node 'n1': r has shape \[3\]"),
    (lambda: _chain(_square(), nir.LIF(tau=np.array([1e-3, 2e-3]), r=np.ones(2),
                                       v_leak=np.zeros(2), v_threshold=np.ones(2))),
     r"node 'n1': per-neuron tau"),
    (lambda: _chain(_square(), nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                                       v_threshold=np.array([1.0, 2.0]))),
     r"node 'n1': per-neuron v_threshold"),
    (lambda: _chain(_square(), nir.IF(r=np.ones(2), v_threshold=np.ones(2),
                                      v_reset=np.full(2, 0.5))), r"node 'n1': v_reset != 0"),
    (lambda: _chain(_square(), _lif((2,), tau=DT / 2)), r"node 'n1': tau = .* 0 < dt <= tau"),
    (lambda: nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([1, 6, 6])}),
        "c": nir.Conv2d(input_shape=(5, 5), weight=np.ones((1, 1, 3, 3)), stride=1, padding=0,
                        dilation=1, groups=1, bias=np.zeros(1)),
        "out": nir.Output(output_type={"output": np.array([1, 3, 3])})},
        edges=[("in", "c"), ("c", "out")], type_check=False),
     r"node 'c' \(Conv2d\): input_shape \[5, 5\] but the signal reaching it has shape"),
    (lambda: _chain(_square(), edges=[("in", "n0"), ("n0", "out"), ("x", "out")]),
     r"no node named 'x'"),
])  # fmt: skip
def test_bad_graphs_are_refused_by_name(graph: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_nir(graph(), dt=DT)


@pytest.mark.parametrize("dt", [0, -1e-3, float("nan"), float("inf"), "1", True])
def test_non_positive_dt(dt: Any) -> None:
    with pytest.raises(ValueError, match="dt: expected a finite number > 0"):
        from_nir(_chain(_square(), _lif((2,))), dt=dt)


def test_to_nir_refuses_what_nir_cannot_hold() -> None:
    from spikedefense.snn.imported import ImportedLayer, ImportedNetwork, Neuron, SynapseOp

    pool = SynapseOp("maxpool", "pool", stride=2, kernel=2)
    layer = ImportedLayer("lif", (pool,), Neuron("lif"), (1, 4, 4), (1, 2, 2))
    with pytest.raises(ValueError, match=r"op 'pool' \(maxpool\): NIR 1.0 has no max-pool"):
        to_nir(ImportedNetwork((layer,), (1, 4, 4), 1.0, "test"))
    with pytest.raises(ValueError, match="thresholds: an ImportedNetwork keeps"):
        to_nir(from_nir(_chain(_square(), _lif((2,))), dt=DT), {"n1": 2.0})


def test_not_a_graph_and_bad_run_input() -> None:
    with pytest.raises(TypeError, match="graph: expected a nir.NIRGraph"):
        from_nir({"nodes": {}}, dt=DT)
    net = from_nir(_chain(_square(), _lif((2,))), dt=DT)
    with pytest.raises(ValueError, match=r"spikes: expected shape \[T, B, 2\]"):
        net.run(np.zeros((4, 1, 3), np.uint8))
    with pytest.raises(ValueError, match="spikes: expected 0/1"):
        net.run(np.full((4, 1, 2), 0.5))
    with pytest.raises(ValueError, match="backend"):
        net.run(np.zeros((4, 1, 2), np.uint8), backend="tpu")
