"""The sleep step on the CPU (fused ``conv_fire``, in-place STDP, checks once per array) gives
the bits of the general path: the public kernels one after the other, copying as they go."""

from __future__ import annotations

import numpy as np
import pytest
import spikedefense.kernels as K
import torch
from spikedefense.kernels.cpu import fused as cpu_fused

from spikedefense.defenses.sleep import SleepConfig, copy_state, init_sleep_state, sleep_step
from spikedefense.defenses.sleep.plasticity import learn_tadros
from spikedefense.defenses.sleep.state import LayerStats
from spikedefense.snn.layers import fire, layer_currents, potential_at_first_spike


def composed_conv_fire(spikes, weight, bias, stride, padding, threshold, out_hw):  # type: ignore[no-untyped-def]  # noqa: E501
    """``conv_fire`` from the public CPU kernels one after the other (what CUDA runs)."""
    currents = K.propagate_conv2d(spikes, weight, stride, padding, backend="cpu")
    currents += bias.astype(currents.dtype)[:, None, None]
    post, _ = K.lif_run(currents, K.LIFParams(1.0, threshold, "subtract"), backend="cpu")
    first = K.first_spike(post, backend="cpu")
    return post, first, potential_at_first_spike(currents, first), post.sum(axis=(2, 3))


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
    post, first, potential, counts = composed_conv_fire(
        spikes, weight, bias, stride, padding, threshold, None)
    assert post.any() and not post.all()
    laid_out = K.conv_fire_layout(weight, backend="cpu")
    assert laid_out.transpose(1, 2, 3, 0).flags.c_contiguous
    assert K.conv_fire_layout(laid_out, backend="cpu") is laid_out  # kept, not copied again
    for w in (weight, laid_out):  # any layout gives the same bits
        out, first_f, potential_f, counts_f = K.conv_fire(
            spikes, w, bias, stride, padding, threshold, backend="cpu")
        np.testing.assert_array_equal(out, post)
        np.testing.assert_array_equal(first_f, first)
        assert potential_f.dtype == dtype
        np.testing.assert_array_equal(potential_f, potential)
        np.testing.assert_array_equal(counts_f, counts)


def test_conv_fire_checks_its_input() -> None:
    spikes = np.zeros((2, 1, 5, 5), np.uint8)
    weight = np.ones((2, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="weight: axis 1 has 1 channels but spikes has 2"):
        K.conv_fire(np.zeros((2, 2, 5, 5), np.uint8), weight, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"bias: expected shape \(2,\)"):
        K.conv_fire(spikes, weight, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="threshold: expected a finite number > 0"):
        K.conv_fire(spikes, weight, np.zeros(2, np.float32), threshold=0.0)
    with pytest.raises(ValueError, match="does not fit"):
        K.conv_fire(spikes, np.ones((2, 1, 7, 7), np.float32), np.zeros(2, np.float32))


@pytest.fixture(scope="module")
def svae():  # type: ignore[no-untyped-def]
    from spikedefense.convert import vae_to_svae
    from spikedefense.data import load_dataset
    from spikedefense.models import ConvVAE

    images, _ = load_dataset("embedded", "test")
    torch.manual_seed(1)
    return vae_to_svae(ConvVAE(latent_dim=8).eval(), images[:32]), images[32:36].numpy()


def general_step(state, image, seed, config, keep_spikes=False):  # type: ignore[no-untyped-def]
    """The sleep step from the public kernels one after the other, every array copied before it
    changes (the path the CPU step is measured against)."""
    spikes = K.bernoulli_encode(np.asarray(image, np.float32), config.steps, seed=seed,
                                backend=config.backend)  # fmt: skip
    pre_first = K.first_spike(spikes, backend=config.backend)
    new_state, stats = [], {}
    for layer in state:
        setting = config.layer(layer.name)
        currents = layer_currents(layer.synapses, spikes[:, None], backend=config.backend)[:, 0]
        post = fire(currents, setting.threshold, backend=config.backend)
        post_first = K.first_spike(post, backend=config.backend)
        potential = potential_at_first_spike(currents, post_first)
        winners = K.kwta_conv(potential, post_first, setting.k, setting.radius,
                              backend=config.backend)  # fmt: skip
        if len(winners):
            syn = layer.synapses._replace(weight=layer.synapses.weight.copy())
            layer = layer._replace(synapses=syn)
            channels = np.unique(winners[:, 0])
            if config.rule == "mstdp":
                unit, mirror = K.stdp_conv(layer.unit, pre_first, post_first, winners, syn.stride,
                                           syn.padding, config.stdp, mirror=layer.mirror,
                                           backend=config.backend)  # fmt: skip
                syn.weight[channels] = ((2.0 * unit[channels] - 1.0) * layer.unit_range
                                        * syn.threshold).astype(np.float32)  # fmt: skip
                layer = layer._replace(unit=unit, mirror=mirror)
            else:
                layer = learn_tadros(layer, spikes, post, winners, config.tadros)
        steps = post_first[winners[:, 0], winners[:, 1], winners[:, 2]]
        stats[layer.name] = LayerStats(int(post.sum(dtype=np.int64)), winners, steps,
                                       post if keep_spikes else None)  # fmt: skip
        new_state.append(layer)
        spikes, pre_first = post, post_first
    return tuple(new_state), stats


def _run(svae, images, config: SleepConfig, step, donate: bool = False):  # type: ignore[no-untyped-def]  # noqa: E501
    state = start = init_sleep_state(svae, config)
    frozen = [(layer.unit.copy(), layer.synapses.weight.copy()) for layer in start]
    if donate:
        state = owned = copy_state(start)
    stats = []
    for i, image in enumerate(images):
        kwargs = {"donate": donate} if donate else {}
        state, st = step(state, image, seed=i, config=config, keep_spikes=i % 2 == 0, **kwargs)
        stats.append(st)
    if donate and config.rule == "mstdp":  # updated in place, not copied
        for a, b in zip(state, owned, strict=True):
            assert a.unit is b.unit and a.mirror is b.mirror
    for layer, (unit, weight) in zip(start, frozen, strict=True):  # the input is not modified
        np.testing.assert_array_equal(layer.unit, unit)
        np.testing.assert_array_equal(layer.synapses.weight, weight)
    return state, stats


def _assert_same(fast_state, fast, slow_state, slow) -> None:  # type: ignore[no-untyped-def]
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


@pytest.mark.parametrize("rule, donate", [("mstdp", False), ("tadros", False), ("mstdp", True),
                                          ("tadros", True)])  # fmt: skip
def test_fused_sleep_step_equals_general_path(svae, rule: str, donate: bool) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    model, images = svae
    config = SleepConfig(rule=rule)
    fast_state, fast = _run(model, images, config, sleep_step, donate)
    slow_state, slow = _run(model, images, config, general_step)
    _assert_same(fast_state, fast, slow_state, slow)
    for layer in fast_state:  # the CPU's propagation weights are kept channels-last
        assert layer.synapses.weight.transpose(1, 2, 3, 0).flags.c_contiguous


def test_the_step_takes_conv_fire_from_the_registry(svae, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    """Replacing the CPU's registered ``conv_fire`` by the public kernels one after the other (as
    the CUDA backend composes them) changes nothing: the step asks the registry, and the fused
    kernel gives the composition's bits."""
    model, images = svae
    config = SleepConfig()
    fast_state, fast = _run(model, images, config, sleep_step, donate=True)
    calls = []

    def spied(*args):  # type: ignore[no-untyped-def]
        calls.append(args[1].shape)
        return composed_conv_fire(*args)

    monkeypatch.setattr(cpu_fused, "conv_fire", spied)
    monkeypatch.setattr(cpu_fused, "conv_fire_layout", lambda weight: weight)
    slow_state, slow = _run(model, images, config, sleep_step, donate=True)
    assert len(calls) == len(images) * len(config.layers)
    _assert_same(fast_state, fast, slow_state, slow)


def test_fused_sleep_step_checks_its_input(svae) -> None:  # type: ignore[no-untyped-def]
    model, images = svae
    config = SleepConfig()
    state = init_sleep_state(model, config)
    state, _ = sleep_step(state, images[0], seed=0, config=config)  # arrays now known as valid
    assert all(layer.checked is not None for layer in state)  # the proof the next step reads
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
    dense = state[0]._replace(synapses=state[0].synapses._replace(kind="linear"))
    with pytest.raises(ValueError, match="'linear' synapses; the sleep layers are convolutions"):
        sleep_step((dense,) + state[1:], images[1], seed=1, config=config)
