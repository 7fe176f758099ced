"""The fused CPU sleep step gives the bits of the general path (public kernels one by one)."""

from __future__ import annotations

import numpy as np
import pytest
import spikedefense.kernels as K
import torch
from spikedefense.kernels.cpu.fused import conv_fire
from spikedefense.kernels.cpu.propagate import channels_last

from spikedefense.defenses import sleep_cpu
from spikedefense.defenses.sleep_config import SleepConfig
from spikedefense.defenses.sleep_step import copy_state, init_sleep_state, sleep_step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "stride", "padding", "size"),
    [
        (1, 64, 5, 1, 2, 28),
        (64, 64, 4, 2, 3, 28),
        (3, 20, 3, 3, 0, 10),
        (2, 5, 3, 2, 2, 7),
        (4, 3, 1, 1, 0, 6),
    ],
)
def test_conv_fire_equals_public_kernels(
    dtype: type, c_in: int, c_out: int, k: int, stride: int, padding: int, size: int
) -> None:
    rng = np.random.default_rng(c_in * 100 + c_out)
    steps, threshold = 9, 2.5
    spikes = (rng.random((steps, c_in, size, size)) < 0.3).astype(np.uint8)
    weight = rng.normal(0.1, 1.0, (c_out, c_in, k, k)).astype(dtype)
    bias = rng.normal(0.0, 0.5, c_out).astype(np.float32)
    currents = K.propagate_conv2d(spikes, weight, stride, padding, backend="cpu")
    currents += bias.astype(dtype)[:, None, None]
    post, _ = K.lif_run(currents, K.LIFParams(1.0, threshold, "subtract"), backend="cpu")
    first = K.first_spike(post, backend="cpu")
    potential = np.take_along_axis(np.cumsum(currents, axis=0), np.maximum(first, 0)[None], 0)[0]
    potential = np.where(first >= 0, potential, 0).astype(dtype)
    out, first_f, potential_f, counts = conv_fire(
        spikes, channels_last(weight, False), bias, stride, padding, threshold, currents.shape[2:]
    )
    np.testing.assert_array_equal(out, post)
    np.testing.assert_array_equal(first_f, first)
    assert potential_f.dtype == dtype
    np.testing.assert_array_equal(potential_f, potential)
    np.testing.assert_array_equal(counts, post.sum(axis=(2, 3)))
    assert post.any() and not post.all()


@pytest.fixture(scope="module")
def svae():  # type: ignore[no-untyped-def]
    from spikedefense.convert import vae_to_svae
    from spikedefense.data import load_dataset
    from spikedefense.models import ConvVAE

    images, _ = load_dataset("embedded", "test")
    torch.manual_seed(1)
    return vae_to_svae(ConvVAE(latent_dim=8).eval(), images[:32]), images[32:36].numpy()


def _run(svae, images, config: SleepConfig, fused: bool, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]  # noqa: E501
         donate: bool = False):
    monkeypatch.setattr(sleep_cpu, "ENABLED", fused)
    state = start = init_sleep_state(svae, config)
    frozen = [(layer.unit.copy(), layer.synapses.weight.copy()) for layer in start]
    if donate:
        state = owned = copy_state(start)
    stats = []
    for i, image in enumerate(images):
        state, st = sleep_step(state, image, seed=i, config=config, keep_spikes=i % 2 == 0,
                               donate=donate)  # fmt: skip
        stats.append(st)
    if donate and config.rule == "mstdp":  # updated in place, not copied
        for a, b in zip(state, owned, strict=True):
            assert a.unit is b.unit and a.mirror is b.mirror
    for layer, (unit, weight) in zip(start, frozen, strict=True):  # the input is not modified
        np.testing.assert_array_equal(layer.unit, unit)
        np.testing.assert_array_equal(layer.synapses.weight, weight)
    return state, stats


@pytest.mark.parametrize("rule, donate", [("mstdp", False), ("tadros", False), ("mstdp", True),
                                          ("tadros", True)])  # fmt: skip
def test_fused_sleep_step_equals_general_path(
    svae,
    rule: str,  # type: ignore[no-untyped-def]
    donate: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, images = svae
    config = SleepConfig(rule=rule)
    fast_state, fast = _run(model, images, config, True, monkeypatch, donate)
    slow_state, slow = _run(model, images, config, False, monkeypatch)
    for a, b in zip(fast_state, slow_state, strict=True):
        np.testing.assert_array_equal(a.unit, b.unit)
        np.testing.assert_array_equal(a.mirror, b.mirror)
        assert a.synapses.weight.dtype == b.synapses.weight.dtype
        np.testing.assert_array_equal(a.synapses.weight, b.synapses.weight)
    for x, y in zip(fast, slow, strict=True):
        for name in x:
            assert x[name].spikes == y[name].spikes > 0
            np.testing.assert_array_equal(x[name].winners, y[name].winners)
            np.testing.assert_array_equal(x[name].winner_steps, y[name].winner_steps)
            assert (x[name].raster is None) == (y[name].raster is None)
            if x[name].raster is not None:
                np.testing.assert_array_equal(x[name].raster, y[name].raster)


def test_fused_sleep_step_checks_its_input(svae) -> None:  # type: ignore[no-untyped-def]
    model, images = svae
    config = SleepConfig()
    state = init_sleep_state(model, config)
    state, _ = sleep_step(state, images[0], seed=0, config=config)  # arrays now known as valid
    bad_unit = state[1].unit.copy()
    bad_unit[0, 0, 0, 0] = 1.5
    with pytest.raises(ValueError, match=r"weight: STDP weights must lie in \[0, 1\]"):
        sleep_step(
            state[:1] + (state[1]._replace(unit=bad_unit),) + state[2:],
            images[1],
            seed=1,
            config=config,
        )
    weight = state[0].synapses.weight.copy()
    weight[0, 0, 0, 0] = np.nan
    broken = state[0]._replace(synapses=state[0].synapses._replace(weight=weight))
    with pytest.raises(ValueError, match="weight: contains NaN or inf"):
        sleep_step((broken,) + state[1:], images[1], seed=1, config=config)
    with pytest.raises(ValueError, match="k: expected at most"):
        sleep_step(state, images[1], seed=1, config=config._replace(k=(5, 5, 8, 10**6)))
