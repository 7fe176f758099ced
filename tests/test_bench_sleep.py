"""The PyTorch sleep step of the benchmark agrees with ours; the sleep benchmark's quick mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from spikedefense.kernels import bernoulli_encode  # noqa: E402
from torch_sleep import TorchSleep  # noqa: E402

from spikedefense.defenses.sleep import SleepConfig, init_sleep_state, sleep_step  # noqa: E402

#: Weights and biases rounded to multiples of 2**-4: every sum of currents and potentials is then
#: exact in float32 whatever the order, so F.conv2d and our event-driven sums give the same bits.
GRID = 2.0**-4


@pytest.fixture(scope="module")
def setup() -> tuple[tuple, np.ndarray, SleepConfig]:
    from spikedefense.convert import vae_to_svae
    from spikedefense.data import load_dataset
    from spikedefense.models import ConvVAE

    images, _ = load_dataset("embedded", "test")
    torch.manual_seed(0)
    svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), images[:32])
    config = SleepConfig()
    state = []
    for layer in init_sleep_state(svae, config):
        syn = layer.synapses
        weight = (np.round(syn.weight / GRID) * GRID).astype(np.float32)
        bias = (np.round(syn.bias / GRID) * GRID).astype(np.float32)
        state.append(layer._replace(synapses=syn._replace(weight=weight, bias=bias)))
    return tuple(state), images[32:36].numpy(), config


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_sleep_matches_sleep_step(setup: tuple, dtype: torch.dtype) -> None:
    state0, images, config = setup
    for i, image in enumerate(images):
        ours_state, ours = sleep_step(state0, image, seed=i, config=config)
        peer = TorchSleep(state0, config, dtype=dtype)
        spikes = bernoulli_encode(image, config.steps, seed=i, backend="cpu")
        theirs = peer.step(torch.from_numpy(spikes))
        weights = peer.weights()
        changed = 0
        for before, layer in zip(state0, ours_state, strict=True):
            o, p = ours[layer.name], theirs[layer.name]
            assert o.spikes == p.spikes > 0, (i, layer.name)
            assert [tuple(int(v) for v in w) for w in o.winners] == p.winners, (i, layer.name)
            assert o.winner_steps.tolist() == p.winner_steps
            unit, mirror, weight = weights[layer.name]
            if dtype == torch.float64:  # the same float64 arithmetic: the same bits
                np.testing.assert_array_equal(unit, layer.unit)
                np.testing.assert_array_equal(mirror, layer.mirror)
                np.testing.assert_array_equal(weight, layer.synapses.weight)
            else:  # float32 unit weights (as SpykeTorch) against our float64
                np.testing.assert_allclose(unit, layer.unit, rtol=0, atol=1e-6)
                np.testing.assert_allclose(mirror, layer.mirror, rtol=0, atol=1e-6)
                np.testing.assert_allclose(
                    weight,
                    layer.synapses.weight,
                    rtol=1e-5,
                    atol=1e-5 * float(np.abs(weight).max()),
                )
            changed += int(np.count_nonzero(layer.unit != before.unit))
        assert changed > 0  # winners learnt


def test_torch_sleep_keeps_its_state_across_images(setup: tuple) -> None:
    state0, images, config = setup
    state, peer = state0, TorchSleep(state0, config, dtype=torch.float64)
    for i, image in enumerate(images[:2]):
        state, ours = sleep_step(state, image, seed=i, config=config)
        theirs = peer.step(
            torch.from_numpy(bernoulli_encode(image, config.steps, seed=i, backend="cpu"))
        )
        for layer in state:
            assert [tuple(int(v) for v in w) for w in ours[layer.name].winners] == theirs[
                layer.name
            ].winners
            np.testing.assert_allclose(peer.weights()[layer.name][0], layer.unit, atol=1e-12)
    assert not any(np.array_equal(a.unit, b.unit) for a, b in zip(state, state0, strict=True))


def test_torch_sleep_encodes_its_own_input(setup: tuple) -> None:
    state0, images, config = setup
    peer = TorchSleep(state0, config)
    gen = torch.Generator().manual_seed(0)
    spikes = peer.encode(torch.from_numpy(images[0]), gen)
    assert spikes.shape == (config.steps, 1, 28, 28) and spikes.dtype == torch.float32
    assert set(torch.unique(spikes).tolist()) <= {0.0, 1.0}
    assert sorted(peer.sleep(torch.from_numpy(images[0]), gen)) == ["S1", "S2", "S3", "S4"]
    with pytest.raises(ValueError, match="mstdp"):
        TorchSleep(state0, config._replace(rule="tadros"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench_sleep")
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # conftest turns the simulator on; CPU (and a real GPU)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_sleep.py"),
            "--quick",
            "--backend",
            "all",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| case | implementation | images/s |" in proc.stdout
    assert (out / "bench_sleep.md").read_text(encoding="utf-8").startswith("# Sleep-phase bench")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]
    return json.loads((out / "bench_sleep.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_quick_report_fields(report: dict) -> None:
    assert report["quick"] is True and report["backend"] == "all"
    assert report["machine"]["cpu_count"] >= 1 and report["versions"]["torch"]
    assert report["model"]["trained"] is False and report["images"] == 2
    assert report["config"]["steps"] == 15
    assert set(report["runs"]) | set(report["skipped"]) == {"cpu", "cuda"}
    for run in report["runs"].values():
        assert run["cases"]
        for case in run["cases"]:
            assert case["threads"] >= 1 and "ours/torch" in case["ratios"]
            for impl in ("ours", "torch"):
                stats = case["implementations"][impl]
                assert stats["images_per_s"] > 0 and stats["s_per_image"] > 0
                assert 0 < stats["min_images_per_s"] <= stats["max_images_per_s"]
                assert stats["repeats"] == len(stats["times_s"]) >= 1
                assert stats["first_call_s"] > 0 and stats["compile_s"] >= 0
                assert sorted(stats["spikes_per_image"]) == ["S1", "S2", "S3", "S4"]
                assert all(v > 0 for v in stats["spikes_per_image"].values())
        checks = run["checks"]
        assert checks["winners_equal"] and checks["spike_counts_equal"]
        assert checks["weights_allclose"]
    speed, scaling = report["targets"]
    assert speed["value"] > 0 and speed["met"] == (speed["value"] >= 4)  # --quick: one thread
    assert scaling["value"] is None and scaling["met"] is None
    bound = report["runs"]["cpu"]["work_bound"]
    assert sorted(bound["layers"]) == ["S1", "S2", "S3", "S4"]
    assert bound["adds_only_s_per_image"] > 0 and bound["max_ratio"] > 0
    assert bound["synaptic_adds"] == sum(w["synaptic_adds"] for w in bound["layers"].values())


def test_work_count_equals_brute_force() -> None:
    """Row additions = (input spike, output position it reaches) pairs, counted output by output."""
    from types import SimpleNamespace

    from sleep_work import count_work

    rng = np.random.default_rng(0)
    cases = [(1, 5, 1, 2, 9), (3, 4, 2, 3, 10), (2, 4, 2, 1, 7)]  # C_in, k, stride, padding, H
    state, inputs = [], {}
    for n, (c_in, k, stride, padding, size) in enumerate(cases):
        name = f"L{n}"
        syn = SimpleNamespace(weight=np.zeros((6, c_in, k, k)), stride=stride, padding=padding)
        state.append(SimpleNamespace(name=name, synapses=syn))
        inputs[name] = [(rng.random((3, c_in, size, size)) < 0.3).astype(np.uint8)
                        for _ in range(2)]  # fmt: skip
    work = count_work(state, inputs)
    for layer, (c_in, k, stride, padding, size) in zip(state, cases, strict=True):
        out = (size + 2 * padding - k) // stride + 1
        pairs = []
        for raster in inputs[layer.name]:
            total = 0
            for oy in range(out):
                for ox in range(out):
                    for ky in range(k):
                        for kx in range(k):
                            y, x = oy * stride - padding + ky, ox * stride - padding + kx
                            if 0 <= y < size and 0 <= x < size:
                                total += int(raster[:, :, y, x].sum())
            pairs.append(total)
        w = work[layer.name]
        assert w["rows"] == np.mean(pairs) and w["synaptic_adds"] == np.mean(pairs) * 6
        assert w["torch_dense_macs"] == 3 * 6 * out * out * c_in * k * k


def test_parallel_ceiling_measures_a_speedup() -> None:
    from sleep_work import parallel_ceiling

    ceiling = parallel_ceiling(1, repeats=1)
    assert ceiling["threads"] == 1 and ceiling["one_thread_s"] > 0 and ceiling["speedup"] > 0
