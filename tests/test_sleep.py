"""The sleep phase: determinism, locality of plasticity, checkpoint/resume, backends, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from spikedefense.kernels import STDPParams
from test_convert import random_vae

from spikedefense.convert import MIRRORS, vae_to_svae
from spikedefense.defenses import (
    DefenseVAE,
    SleepConfig,
    defense_vae_sleep,
    init_sleep_state,
    sleep,
    sleep_step,
)
from spikedefense.defenses.sleep.state import LayerState, synapse_weight
from spikedefense.models import make_classifier
from spikedefense.snn.layers import SpikingLayer

SLEEPING = ("S1", "S2", "S3", "S4")


@pytest.fixture(scope="module")
def svae():
    calibration = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    return vae_to_svae(random_vae(seed=5), calibration)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 0.7


@pytest.fixture(scope="module")
def slept(svae, images):
    return sleep(svae, images, progress=False, record_images=2)


def test_same_seed_same_weights_other_seed_other_weights(svae, images, slept):
    again = sleep(svae, images, progress=False)
    other = sleep(svae, images, SleepConfig(seed=7), progress=False)
    for name in (*SLEEPING, *MIRRORS.values()):
        assert np.array_equal(again.svae[name].weight, slept.svae[name].weight)
    assert any(not np.array_equal(other.svae[n].weight, slept.svae[n].weight) for n in SLEEPING)


def test_sleep_changes_weights_and_reports_it(svae, slept):
    report = slept.report
    assert report.images == 4 and report.resumed_from == 0
    for name in SLEEPING:
        layer = report.layers[name]
        assert layer["spikes"] > 0
        assert layer["winners"] == sum(layer["winners_per_map"]) > 0
        assert layer["weight_change"]["max_abs"] > 0
        assert layer["mirror"] == MIRRORS[name] and layer["mirror_change"]["max_abs"] > 0
    for name in ("mu", "logvar", "D0"):
        assert np.array_equal(slept.svae[name].weight, svae[name].weight)
        assert np.array_equal(slept.svae[name].bias, svae[name].bias)


def test_only_winners_maps_change(svae, slept):
    for name in SLEEPING:
        won = np.flatnonzero(slept.report.layers[name]["winners_per_map"])
        changed = np.flatnonzero(
            np.any(slept.svae[name].weight != svae[name].weight, axis=(1, 2, 3))
        )
        assert set(changed) <= set(won) and len(changed) > 0
        mirror = MIRRORS[name]
        changed = np.flatnonzero(
            np.any(slept.svae[mirror].weight != svae[mirror].weight, axis=(1, 2, 3))
        )
        assert set(changed) <= set(won)


def test_one_step_changes_only_winners_receptive_fields(svae, images):
    """Per image: only winners' rows change; in S1 (one input map) every movable tap of the
    winner's window moves, up where its input fired no later than the winner, down where it
    fired later or never, zero padding (an input that never fires) included."""
    from spikedefense.kernels import bernoulli_encode, first_spike

    config = SleepConfig(k=(1, 1, 1, 1), radius=(0, 0, 0, 0))
    state = init_sleep_state(svae, config)
    corner = np.zeros((1, 28, 28), np.float32)
    corner[0, :4, :4] = 0.9  # light only at the border: the S1 winner's window leaves the image
    for image in (images[0].numpy(), corner):
        new, stats = sleep_step(state, image, 0, config)
        for old, layer in zip(state, new, strict=True):
            winners = stats[layer.name].winners
            changed = np.argwhere(layer.unit != old.unit)
            assert set(changed[:, 0].tolist()) <= set(winners[:, 0].tolist())
        (c, y, x), t_post = stats["S1"].winners[0], stats["S1"].winner_steps[0]
        pre_first = first_spike(bernoulli_encode(image, config.steps, seed=0))[0]
        up, down, outside = set(), set(), 0
        for ky in range(5):
            for kx in range(5):
                iy, ix = y - 2 + ky, x - 2 + kx
                inside = 0 <= iy < 28 and 0 <= ix < 28
                outside += not inside
                if not 0 < state[0].unit[c, 0, ky, kx] < 1:
                    continue  # the soft bound u (1 - u) holds 0 and 1 (the largest |W~|) still
                fired = inside and 0 <= pre_first[iy, ix] <= t_post
                (up if fired else down).add((ky, kx))
        delta = new[0].unit[c, 0] - state[0].unit[c, 0]
        assert {tuple(int(v) for v in t) for t in np.argwhere(delta > 0)} == up
        assert {tuple(int(v) for v in t) for t in np.argwhere(delta < 0)} == down
    assert outside > 0  # the corner image's winner did reach into the padding


def test_sleep_records_spikes_and_winners(slept):
    assert set(slept.records) == set(SLEEPING)
    for name, record in slept.records.items():
        assert record.steps == 2 * 15 and record.count > 0
        rows = slept.winners[name]
        dense = record.to_dense().reshape(record.steps, -1)
        assert rows.shape[1] == 2 and len(rows) > 0
        assert all(dense[t, i] == 1 for t, i in rows)  # a winner fires at its step


def test_interrupted_sleep_resumes_to_the_same_weights(svae, images, slept, tmp_path, monkeypatch):
    import importlib

    module = importlib.import_module("spikedefense.defenses.sleep.phase")

    calls = {"n": 0}
    real = module.sleep_step

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    stem = str(tmp_path / "sleep")
    monkeypatch.setattr(module, "sleep_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sleep(svae, images, progress=False, checkpoint=stem, checkpoint_every=1)
    monkeypatch.setattr(module, "sleep_step", real)
    resumed = sleep(svae, images, progress=False, checkpoint=stem, checkpoint_every=1)
    assert resumed.report.resumed_from == 3
    for name in (*SLEEPING, *MIRRORS.values()):
        assert np.array_equal(resumed.svae[name].weight, slept.svae[name].weight)
    assert resumed.report.layers["S1"]["spikes"] == slept.report.layers["S1"]["spikes"]
    finished = sleep(svae, images, progress=False, checkpoint=stem)  # nothing left to do
    assert finished.report.resumed_from == 4
    # Its time is the checkpoint's: the first run's 3 images and the resumed run's last one.
    assert finished.report.seconds == resumed.report.seconds > 0
    assert np.array_equal(finished.records["S2"].to_dense(), resumed.records["S2"].to_dense())
    assert np.array_equal(finished.winners["S1"], resumed.winners["S1"])
    with pytest.raises(ValueError, match="another sleep run"):
        sleep(svae, images, SleepConfig(seed=9), progress=False, checkpoint=stem)


def _interrupt_at(monkeypatch, module, name, call):
    """Make ``module.name`` raise KeyboardInterrupt on its ``call``-th call."""
    calls = {"n": 0}
    real = getattr(module, name)

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted)


def _crash_then_resume(svae, images, stem, monkeypatch, record_images):
    """Sleep with a checkpoint after every image until the patched call interrupts it, then
    undo the patches and sleep again on the same checkpoint."""
    with pytest.raises(KeyboardInterrupt):
        sleep(svae, images, progress=False, checkpoint=stem, checkpoint_every=1,
              record_images=record_images)  # fmt: skip
    monkeypatch.undo()
    return sleep(svae, images, progress=False, checkpoint=stem, checkpoint_every=1,
                 record_images=record_images)  # fmt: skip


def _sleep_module():
    import importlib

    return importlib.import_module("spikedefense.defenses.sleep.phase")


def test_resume_inside_the_recorded_images_returns_the_whole_record(svae, images, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    whole = sleep(svae, images, progress=False, record_images=3)
    stem = tmp_path / "sleep"  # a Path works as a stem too
    _interrupt_at(monkeypatch, _sleep_module(), "sleep_step", 4)  # after 3 of 4 images
    resumed = _crash_then_resume(svae, images, stem, monkeypatch, record_images=3)
    # No checkpoint among the recorded images: it went back to their start (image 1).
    assert resumed.report.resumed_from == 1
    for name in SLEEPING:
        assert resumed.records[name].steps == 3 * 15
        assert np.array_equal(resumed.records[name].to_dense(), whole.records[name].to_dense())
        assert np.array_equal(resumed.winners[name], whole.winners[name])
    again = sleep(svae, images, progress=False, checkpoint=stem, record_images=3)
    assert again.report.resumed_from == 4
    assert np.array_equal(again.records["S3"].to_dense(), whole.records["S3"].to_dense())
    with pytest.raises(ValueError, match="recorded 3 images, 1 were asked for"):
        sleep(svae, images, progress=False, checkpoint=stem, record_images=1)


@pytest.mark.parametrize("crash", ["before the sidecar", "after the sidecar"])
def test_a_save_interrupted_anywhere_resumes(svae, images, slept, tmp_path, monkeypatch, crash):
    import importlib

    module = importlib.import_module("spikedefense.defenses.sleep.checkpoint")
    if crash == "before the sidecar":  # the new weights are written, the sidecar is not
        _interrupt_at(monkeypatch, module, "atomic_write_text", 2)
        expected = 1
    else:  # the sidecar names the new weights, which are not in place yet
        # os.replace runs three times a save (new weights, sidecar, moving the weights in
        # place): the 6th call is the second save's last step.
        _interrupt_at(monkeypatch, module.os, "replace", 6)
        expected = 2
    resumed = _crash_then_resume(svae, images, str(tmp_path / "sleep"), monkeypatch,
                                 record_images=2)  # fmt: skip
    assert resumed.report.resumed_from == expected
    for name in (*SLEEPING, *MIRRORS.values()):
        assert np.array_equal(resumed.svae[name].weight, slept.svae[name].weight)
    assert np.array_equal(resumed.records["S1"].to_dense(), slept.records["S1"].to_dense())


def test_checkpoint_identity_covers_biases_but_not_the_backend(svae, images, tmp_path):
    from spikedefense.defenses.sleep.checkpoint import fingerprint

    x = images.numpy()
    assert fingerprint(svae, x, SleepConfig(backend="cpu")) == fingerprint(
        svae, x, SleepConfig(backend="cuda"))  # same weights on both: either may resume
    stem = str(tmp_path / "sleep")
    sleep(svae, images[:1], progress=False, checkpoint=stem)
    s1 = svae["S1"]
    other_bias = svae.replace_layers(dataclasses.replace(s1, bias=s1.bias + 0.01))
    with pytest.raises(ValueError, match="another sleep run"):
        sleep(other_bias, images[:1], progress=False, checkpoint=stem)


def test_records_left_by_another_run_are_not_returned(svae, images, tmp_path):
    stem = tmp_path / "sleep"
    sleep(svae, images[:2], progress=False, checkpoint=stem, record_images=1)
    for suffix in (".json", ".safetensors"):  # the records file stays behind
        (tmp_path / f"sleep{suffix}").unlink()
    other = SleepConfig(seed=4)
    fresh = sleep(svae, images[:2], other, progress=False, checkpoint=stem, record_images=0)
    finished = sleep(svae, images[:2], other, progress=False, checkpoint=stem, record_images=0)
    assert fresh.records == finished.records == {}
    (tmp_path / "sleep.spikes.npz").write_bytes(b"not the records")
    with pytest.raises(ValueError, match="recorded 0 images"):
        sleep(svae, images[:2], other, progress=False, checkpoint=stem, record_images=1)


def test_finished_run_refuses_a_records_file_it_did_not_write(svae, images, tmp_path):
    stem = tmp_path / "sleep"
    sleep(svae, images[:1], progress=False, checkpoint=stem, record_images=1)
    (tmp_path / "sleep.spikes.npz").write_bytes(b"something else")
    with pytest.raises(ValueError, match="spikes.npz is missing or is not the one"):
        sleep(svae, images[:1], progress=False, checkpoint=stem, record_images=1)


def test_thresholds_set_only_the_unit(svae, images, slept):
    """As sleep_step documents: the propagation weights scale with the thresholds."""
    other = sleep(svae, images, SleepConfig(thresholds=(1.0, 4.0, 0.5, 100.0)), progress=False,
                  record_images=2)  # fmt: skip
    for name in (*SLEEPING, *MIRRORS.values()):
        assert np.array_equal(other.svae[name].weight, slept.svae[name].weight)
    assert np.array_equal(other.winners["S2"], slept.winners["S2"])


def test_tadros_rule_changes_only_winner_maps(svae, images):
    result = sleep(svae, images[:2], SleepConfig(rule="tadros"), progress=False)
    for name in SLEEPING:
        won = np.flatnonzero(result.report.layers[name]["winners_per_map"])
        changed = np.flatnonzero(
            np.any(result.svae[name].weight != svae[name].weight, axis=(1, 2, 3))
        )
        assert set(changed) <= set(won)
    assert result.report.layers["S1"]["weight_change"]["max_abs"] > 0


def test_defense_vae_sleep_keeps_the_classifier_and_names_itself(images):
    classifier = make_classifier("C3").eval()
    awake = DefenseVAE(random_vae(seed=1), classifier, "defense-vae-e2e")
    slept, result = defense_vae_sleep(awake, images, images[:2], progress=False)
    assert slept.name == "defense-vae-sleep-e2e" and slept.classifier is classifier
    assert slept.predict(images).shape == (4,)
    assert result.report.images == 2
    assert any(
        not torch.equal(a, b)
        for a, b in zip(
            slept.vae.state_dict().values(), awake.vae.state_dict().values(), strict=True
        )
    )


def small_state() -> tuple[LayerState, ...]:
    """Two chained layers (S1: 1 -> 4 maps, k5 s1 p2; S2: 4 -> 4, k4 s2 p3) with biases."""
    rng = np.random.default_rng(0)
    layers = []
    for name, c_out, c_in, k, stride, pad in (("S1", 4, 1, 5, 1, 2), ("S2", 4, 4, 4, 2, 3)):
        unit = rng.uniform(0.05, 0.95, (c_out, c_in, k, k))
        bias = rng.normal(0, 0.05, c_out).astype(np.float32)
        synapses = SpikingLayer("conv", synapse_weight(unit, 0.4, 1.5), bias, stride, pad, 1.5)
        layers.append(LayerState(name, unit, rng.uniform(0.05, 0.95, unit.shape), synapses,
                                 0.4, 0.6))  # fmt: skip
    return tuple(layers)


@pytest.mark.cudasim
@pytest.mark.parametrize("rule", ["mstdp", "tadros"])
def test_sleep_step_cpu_equals_cuda(cuda_backend, rule):
    image = np.random.default_rng(1).uniform(0, 1, (1, 10, 10))
    results = {}
    for backend in ("cpu", cuda_backend):
        config = SleepConfig(steps=5, layers=("S1", "S2"), thresholds=(1.5, 1.5), k=(3, 2),
                             radius=(1, 1), stdp=STDPParams(a_r_plus=0.05, a_r_minus=-0.04),
                             rule=rule, backend=backend)  # fmt: skip
        results[backend] = sleep_step(small_state(), image, 3, config)
    (cpu, cpu_stats), (gpu, gpu_stats) = results["cpu"], results[cuda_backend]
    for a, b, start in zip(cpu, gpu, small_state(), strict=True):
        sa, sb = cpu_stats[a.name], gpu_stats[b.name]
        assert np.array_equal(sa.winners, sb.winners) and len(sa.winners) > 0
        assert sa.spikes == sb.spikes
        assert np.array_equal(a.unit, b.unit) and np.array_equal(a.mirror, b.mirror)
        assert np.array_equal(a.synapses.weight, b.synapses.weight)
        assert not np.array_equal(a.unit, start.unit)


@pytest.mark.parametrize(
    ("config", "text"),
    [
        (SleepConfig(steps=0), "config.steps"),
        (SleepConfig(steps=-3), "config.steps"),
        (SleepConfig(backend="gpu"), "config.backend"),
        (SleepConfig(rule="hebb"), "config.rule"),
        (SleepConfig(layers=("S2",), thresholds=(1.0,), k=(1,), radius=(0,)), "config.layers"),
        (SleepConfig(k=(5, 5)), "config.k"),
        (SleepConfig(thresholds=(36.0, 0.0, 23.0, 36.0)), "config.thresholds"),
        (SleepConfig(stdp=STDPParams(a_r_plus=float("nan"))), "a_r_plus"),
    ],
)
def test_bad_config_names_the_field(svae, images, config, text):
    with pytest.raises(ValueError, match=text):
        sleep(svae, images, config, progress=False)


def test_bad_arguments(svae, images):
    with pytest.raises(TypeError, match="svae"):
        sleep(random_vae(), images, progress=False)
    with pytest.raises(ValueError, match="images"):
        sleep(svae, torch.rand(2, 1, 14, 14), progress=False)
    with pytest.raises(ValueError, match="images"):
        sleep(svae, images * 3, progress=False)
    with pytest.raises(TypeError, match="config"):
        sleep(svae, images, {"steps": 15}, progress=False)
    with pytest.raises(ValueError, match="checkpoint_every"):
        sleep(svae, images, progress=False, checkpoint_every=0)
    with pytest.raises(TypeError, match="defense"):
        defense_vae_sleep(random_vae(), images, images, progress=False)
    with pytest.raises(TypeError, match="checkpoint: expected a path stem"):
        sleep(svae, images, progress=False, checkpoint=5)
    with pytest.raises(ValueError, match="config.k: layer S4 has 256 feature maps"):
        sleep(svae, images, SleepConfig(k=(5, 5, 8, 257)), progress=False)


def test_sleep_step_bad_image_or_mismatched_state(svae, images):
    state = init_sleep_state(svae, SleepConfig())
    with pytest.raises(ValueError, match=r"image: expected one image \[C, H, W\]"):
        sleep_step(state, images[0, 0].numpy(), 0, SleepConfig())
    two = SleepConfig(layers=("S1", "S2"), thresholds=(36.0, 23.0), k=(5, 5), radius=(3, 2))
    with pytest.raises(ValueError, match="state: its layers"):
        sleep_step(state, images[0].numpy(), 0, two)


def test_numpy_numbers_in_the_config_are_accepted(svae, images, slept):
    config = SleepConfig(steps=np.int64(15), seed=np.int64(0), k=tuple(np.array([5, 5, 8, 1])),
                         thresholds=tuple(np.array([36.0, 23.0, 23.0, 36.0])))  # fmt: skip
    result = sleep(svae, images, config, progress=False)
    assert result.report.config["steps"] == 15 and type(result.report.config["steps"]) is int
    assert np.array_equal(result.svae["S2"].weight, slept.svae["S2"].weight)
