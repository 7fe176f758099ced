"""VAE <-> SVAE conversion: exact round trip, scales, the unit mapping, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from random_models import random_vae
from torch import nn

from spikedefense.convert import ENCODER_NAMES, MIRRORS, SVAE, svae_to_vae, vae_to_svae
from spikedefense.models import ConvVAE, make_classifier


@pytest.fixture(scope="module")
def vae() -> ConvVAE:
    return random_vae()


@pytest.fixture(scope="module")
def calibration() -> torch.Tensor:
    return torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_round_trip_gives_back_every_weight_and_statistic(vae, calibration):
    back = svae_to_vae(vae_to_svae(vae, calibration))
    original, restored = vae.state_dict(), back.state_dict()
    assert original.keys() == restored.keys()
    for key, value in original.items():
        if value.is_floating_point():
            scale = max(float(value.abs().max()), 1e-30)
            diff = float((value.double() - restored[key].double()).abs().max())
            assert diff <= 1e-6 * scale, key


def test_round_trip_gives_the_same_reconstructions(vae, calibration):
    back = svae_to_vae(vae_to_svae(vae, calibration))
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(back.reconstruct(x), vae.reconstruct(x), atol=1e-6, rtol=0)
        assert torch.allclose(back.encode(x)[1], vae.encode(x)[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", [*ENCODER_NAMES, *MIRRORS.values()])
def test_a_change_of_one_normalised_weight_maps_back_to_that_weight_alone(vae, calibration, name):
    """What sleep relies on: W~[index] changed -> only the VAE's raw weight[index] changes."""
    svae = vae_to_svae(vae, calibration)
    layer = svae[name]
    index = tuple(int(i) // 2 for i in layer.weight.shape)
    weight = layer.weight.copy()
    weight[index] += 0.25 * layer.unit_range
    original = vae.state_dict()
    back = svae_to_vae(svae.replace_layers(layer.with_weight(weight)))
    changed = []
    for key, value in back.state_dict().items():
        if value.is_floating_point():
            diff = (value.double() - original[key].double()).abs()
            where = torch.nonzero(diff > 1e-3 * max(float(original[key].abs().max()), 1e-30))
            changed += [(key, tuple(int(i) for i in w)) for w in where]
    assert len(changed) == 1
    key, where = changed[0]
    assert key.endswith("weight") and where == index
    assert tuple(original[key].shape) == layer.weight.shape


def test_bn_is_folded_and_scales_are_percentiles(vae, calibration):
    svae = vae_to_svae(vae, calibration, percentile=99.0)
    block = vae.encoder[0]
    with torch.no_grad():
        act = block(calibration)
    assert svae["S1"].scale == pytest.approx(
        float(np.percentile(act[act > 0].numpy(), 99.0)), rel=1e-6
    )
    bn = block[1]
    s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    folded = block[0].weight.detach().double().numpy() * s[:, None, None, None]
    assert np.allclose(svae["S1"].weight, folded / svae["S1"].scale, rtol=1e-6)
    shift = bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)
    assert np.allclose(svae["S1"].bias, shift.detach().double().numpy() / svae["S1"].scale)
    assert svae["S2"].input_scale == svae["S1"].scale
    assert svae["mu"].scale == 1.0 and not svae["mu"].spiking
    # Normalised: the calibration activations map to rates mostly below one spike per step.
    for name in ENCODER_NAMES:
        assert svae[name].spiking


def test_folded_encoder_computes_the_vae(vae, calibration):
    """conv(x, W~) + b~ after ReLU times the scale equals the VAE's BN+ReLU output."""
    svae = vae_to_svae(vae, calibration)
    layer = svae["S1"]
    x = calibration[:2].double()
    out = (
        torch.relu(
            nn.functional.conv2d(x, torch.from_numpy(layer.weight), padding=2)
            + torch.from_numpy(layer.bias)[:, None, None]
        )
        * layer.scale
    )
    with torch.no_grad():
        ref = vae.encoder[0](calibration[:2]).double()
    assert torch.allclose(out, ref, atol=1e-5)


def test_unit_mapping_is_affine_into_zero_one_and_back(vae, calibration):
    svae = vae_to_svae(vae, calibration)
    for layer in svae:
        unit = layer.unit_weight()
        assert unit.min() >= 0.0 and unit.max() <= 1.0
        assert np.allclose(layer.with_unit_weight(unit).weight, layer.weight, atol=1e-15)
    for enc, dec in MIRRORS.items():
        assert svae[enc].weight.shape == svae[dec].weight.shape


def test_zero_bn_scale_channels_come_back_unchanged(calibration):
    vae = random_vae(seed=3)
    with torch.no_grad():
        vae.encoder[1][1].weight[5] = 0.0
    back = svae_to_vae(vae_to_svae(vae, calibration))
    assert torch.equal(back.encoder[1][0].weight[5], vae.encoder[1][0].weight[5])


def test_conversion_leaves_the_vae_flags_alone(calibration):
    vae = random_vae().train()
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    vae_to_svae(vae, calibration)
    assert vae.training
    assert all(torch.equal(before[k], v) for k, v in vae.state_dict().items())


@pytest.mark.parametrize(
    ("args", "error", "text"),
    [
        ((make_classifier("C3"), torch.rand(2, 1, 28, 28)), TypeError, "vae"),
        (("not a model", torch.rand(2, 1, 28, 28)), TypeError, "vae"),
        ((None, torch.rand(0, 1, 28, 28)), ValueError, "calibration_images"),
        ((None, torch.rand(2, 3, 28, 28)), ValueError, "calibration_images"),
        ((None, torch.full((2, 1, 28, 28), 2.0)), ValueError, "calibration_images"),
        ((None, torch.full((2, 1, 28, 28), float("nan"))), ValueError, "calibration_images"),
        ((None, np.zeros((2, 1, 28, 28))), TypeError, "calibration_images"),
    ],
)
def test_bad_input_names_the_argument(vae, args, error, text):
    model = vae if args[0] is None else args[0]
    with pytest.raises(error, match=text):
        vae_to_svae(model, args[1])


@pytest.mark.parametrize("percentile", [0, -1, 100.5, float("nan"), "99"])
def test_bad_percentile(vae, calibration, percentile):
    with pytest.raises(ValueError, match="percentile"):
        vae_to_svae(vae, calibration, percentile=percentile)


def test_svae_to_vae_refuses_other_objects():
    with pytest.raises(TypeError, match="svae"):
        svae_to_vae(random_vae())
    assert issubclass(SVAE, object)
