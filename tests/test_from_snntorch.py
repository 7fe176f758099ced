"""from_snntorch / from_norse: spikes on the core equal the library's on the same input spikes.

As in ``test_export.py``: the neuron recursion is the library's, operation for operation
(snnTorch's delayed subtraction and zero reset; Norse's box LIF up to ``(1-a) v + a I`` versus
``v + a (I - v)``), and both fire on ``v > threshold``, so threshold ties fire alike. What can
differ is the currents: our event-driven kernels sum a receptive field in another order than
``nn.Linear`` / ``nn.Conv2d``. With weights on a dyadic grid every sum is exact and the spike
trains are asserted identical, ties included; with random weights only rounding flips may
differ, and the test bounds them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from spikedefense.convert import from_norse, from_snntorch

snntorch = pytest.importorskip("snntorch")
norse = pytest.importorskip("norse.torch")

STEPS = 16


def _grid(model: nn.Module, gain: float = 4.0, bits: int = 3) -> nn.Module:
    """Weights and biases times ``gain`` rounded to multiples of 2**-bits (sums stay exact in
    float32)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.round(p * gain * 2**bits) / 2**bits)
    return model


def _spikes(shape: tuple[int, ...], rate: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((STEPS, *shape), generator=g) < rate).float()


def run_snntorch(model: nn.Module, spikes: torch.Tensor) -> tuple[dict[str, np.ndarray], int]:
    """Step ``model`` (Leaky with init_hidden) from rest: per-Leaky spikes, and how many
    neuron-steps had ``mem == threshold`` exactly (ties)."""
    out: dict[str, list[torch.Tensor]] = {}
    ties = [0]
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, snntorch.Leaky):
            m.mem = torch.zeros(0)  # from rest: snnTorch makes a zero state of the input's shape
            def hook(mod: Any, _inp: Any, spk: Any, name: str = name) -> None:
                out.setdefault(name, []).append(spk.detach().clone())
                ties[0] += int((mod.mem == mod.threshold).sum())
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        for x in spikes:
            model(x)
    for h in hooks:
        h.remove()
    return {k: torch.stack(v).numpy().astype(np.uint8) for k, v in out.items()}, ties[0]


def run_norse(model: nn.Module, spikes: torch.Tensor) -> dict[str, np.ndarray]:
    out: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, norse.LIFBoxCell):
            def hook(_mod: Any, _inp: Any, res: Any, name: str = name) -> None:
                out.setdefault(name, []).append(res[0].detach().clone())
            hooks.append(m.register_forward_hook(hook))
    state = None
    with torch.no_grad():
        for x in spikes:
            _, state = model(x, state)
    for h in hooks:
        h.remove()
    return {k: torch.stack(v).numpy().astype(np.uint8) for k, v in out.items()}


def _compare(ours: dict[str, Any], theirs: dict[str, np.ndarray]) -> tuple[int, int, int]:
    """(neuron-steps compared, spikes, mismatches) over every layer."""
    assert set(ours) == set(theirs)
    compared = fired = bad = 0
    for name, want in theirs.items():
        got = ours[name].to_dense()
        assert got.shape == want.shape, name
        compared, fired = compared + got.size, fired + int(want.sum())
        bad += int((got != want).sum())
    return compared, fired, bad


def _mlp(beta1: float = 0.9, beta2: float = 0.8) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(24, 16), snntorch.Leaky(beta=beta1, init_hidden=True),
        nn.Linear(16, 10), snntorch.Leaky(beta=beta2, init_hidden=True, reset_mechanism="zero"))


def _convnet() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2),
        snntorch.Leaky(beta=0.9, init_hidden=True),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 6),
        snntorch.Leaky(beta=0.7, threshold=0.5, init_hidden=True))


@pytest.mark.parametrize("build", [_mlp, _convnet])
def test_snntorch_spikes_equal_when_sums_are_exact(build: Any) -> None:
    model = _grid(build())
    shape = (3, 24) if build is _mlp else (3, 1, 8, 8)
    x = _spikes(shape)
    net = from_snntorch(model, shape[1:])
    theirs, ties = run_snntorch(model, x)
    compared, fired, bad = _compare(net.run(x).records, theirs)
    assert fired > 0.05 * compared, "too few spikes for a meaningful comparison"
    assert bad == 0, f"{bad} of {compared} neuron-steps differ"
    if build is _mlp:
        assert ties > 0, "the grid should produce exact ties (mem == threshold)"


def test_snntorch_random_weights_differ_only_by_rounding() -> None:
    model = _mlp()
    x = _spikes((4, 24), seed=2)
    theirs, _ = run_snntorch(model, x)
    compared, fired, bad = _compare(from_snntorch(model).run(x).records, theirs)
    assert fired > 0 and bad <= 1e-3 * compared, (bad, compared)


def test_snntorch_at_threshold_export_is_not_strict() -> None:
    """A Leaky with our exporter's ``fire_at_threshold`` fires on v >= threshold."""
    from spikedefense.convert.to_snntorch import fire_at_threshold

    model = nn.Sequential(nn.Linear(1, 1, bias=False),
                          snntorch.Leaky(beta=1.0, init_hidden=True, spike_grad=fire_at_threshold))
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    x = torch.ones(STEPS, 1, 1)
    net = from_snntorch(model)
    assert not net.layers[0].neuron.strict
    theirs, ties = run_snntorch(model, x)
    got = net.run(x).output
    assert np.array_equal(got, theirs["1"]) and got.sum() == STEPS // 2 and ties > 0


def _norse_mlp(reset: Any = None) -> nn.Module:
    torch.manual_seed(3)
    p = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(500.0))
    if reset is not None:
        p = p._replace(reset_method=reset)
    return norse.SequentialState(nn.Linear(24, 16), norse.LIFBoxCell(p, dt=1e-3),
                                 nn.Linear(16, 10), norse.LIFBoxCell(p, dt=1e-3))


@pytest.mark.parametrize("reset", ["value", "subtract"])
def test_norse_spikes_equal_when_sums_are_exact(reset: str) -> None:
    from norse.torch.functional.reset import reset_subtract

    model = _grid(_norse_mlp(reset_subtract if reset == "subtract" else None), gain=8.0)
    x = _spikes((3, 24), rate=0.5)
    net = from_norse(model)
    assert net.dt == pytest.approx(1e-3) and net.layers[0].neuron.beta == 0.5
    compared, fired, bad = _compare(net.run(x).records, run_norse(model, x))
    assert fired > 0.02 * compared and bad == 0, (fired, bad, compared)


def test_norse_random_weights_differ_only_by_rounding() -> None:
    model = _norse_mlp()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    x = _spikes((4, 24), rate=0.5, seed=4)
    compared, fired, bad = _compare(from_norse(model).run(x).records, run_norse(model, x))
    assert fired > 0 and bad <= 1e-3 * compared, (bad, compared)


@pytest.mark.cudasim
def test_cuda_backend_gives_the_cpu_spikes(cuda_backend: str) -> None:
    model = _grid(nn.Sequential(nn.Linear(6, 5), snntorch.Leaky(beta=0.9, init_hidden=True),
                                nn.Linear(5, 3), snntorch.Leaky(beta=0.5, init_hidden=True,
                                                                reset_mechanism="zero")))
    x = _spikes((2, 6))[:6]
    net = from_snntorch(model)
    cpu, gpu = net.run(x, backend="cpu"), net.run(x, backend=cuda_backend)
    assert np.array_equal(cpu.output, gpu.output)
    theirs, _ = run_snntorch(model, x)
    assert _compare(gpu.records, theirs)[2] == 0


@pytest.mark.parametrize(("module", "match"), [
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU()),
     r"module '1': unsupported module type ReLU"),
    (lambda: nn.Sequential(nn.Linear(4, 3), snntorch.Synaptic(alpha=0.5, beta=0.5)),
     r"module '1': unsupported module type Synaptic"),
    (lambda: nn.Sequential(nn.Linear(4, 3), snntorch.Leaky(beta=torch.tensor([0.5, 0.6, 0.7]))),
     r"module '1': per-neuron beta"),
    (lambda: nn.Sequential(nn.Linear(4, 3), snntorch.Leaky(beta=0.5, reset_mechanism="none")),
     r"module '1' \(Leaky\): reset_mechanism 'none'"),
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2)),
     r"module '1' \(Linear\): in_features 5"),
    (lambda: nn.Linear(4, 3), r"expected a torch.nn.Sequential"),
])  # fmt: skip
def test_snntorch_refusals(module: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        from_snntorch(module())


def test_snntorch_conv_needs_input_shape_and_dt_positive() -> None:
    with pytest.raises(ValueError, match="input_shape: needed"):
        from_snntorch(_convnet())
    with pytest.raises(ValueError, match=r"module '0' \(Conv2d\): in_channels 1"):
        from_snntorch(_convnet(), (2, 8, 8))
    with pytest.raises(ValueError, match="dt: expected a finite number > 0"):
        from_snntorch(_mlp(), dt=0.0)


def test_norse_refusals() -> None:
    with pytest.raises(ValueError, match=r"module '1': LIFCell has a synaptic-current state"):
        from_norse(nn.Sequential(nn.Linear(4, 3), norse.LIFCell()))
    p = norse.LIFBoxParameters(v_leak=torch.tensor(0.2))
    with pytest.raises(ValueError, match=r"module '1' \(LIFBoxCell\): v_leak != 0"):
        from_norse(nn.Sequential(nn.Linear(4, 3), norse.LIFBoxCell(p)))
    p = norse.LIFBoxParameters(v_th=torch.tensor([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"module '1': per-neuron v_th"):
        from_norse(nn.Sequential(nn.Linear(4, 3), norse.LIFBoxCell(p)))
    with pytest.raises(ValueError, match="dt \\* tau_mem_inv = 2.0"):
        from_norse(nn.Sequential(nn.Linear(4, 3), norse.LIFBoxCell(dt=0.02)))
    with pytest.raises(ValueError, match="the cells' dt differ"):
        from_norse(nn.Sequential(nn.Linear(4, 3), norse.LIFBoxCell(dt=1e-3),
                                 nn.Linear(3, 2), norse.LIFBoxCell(dt=2e-3)))


@pytest.mark.slow
def test_import_example_runs(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "import_snntorch.py"
    out = tmp_path / "raster.png"
    proc = subprocess.run([sys.executable, str(script), "--steps", "20", "--hidden", "50",
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("layer")]
    assert len(lines) == 2 and all(" 0 of " in line for line in lines), proc.stdout
