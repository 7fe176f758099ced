"""Spiking VAEs both ways: PyTorch VAE -> SVAE -> snnTorch / Norse -> SVAE -> PyTorch VAE gives
the original weights to 1e-6 relative, and an edit made in the library's model comes back.

"Relative" is to each tensor's largest magnitude: the exported synapses hold float32 ``W~ theta``
(6e-8 relative per entry). A BatchNorm bias comes back as ``b' + mean * s`` from the folded
float32 bias ``b' = bias - mean * s``, so its error scales with ``|mean * s|`` as well, which is
the scale its tolerance uses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from random_models import random_vae

from spikedefense.convert import (
    SVAE,
    from_norse,
    from_snntorch,
    svae_to_vae,
    to_norse,
    to_snntorch,
    vae_to_svae,
)
from spikedefense.models import ConvVAE

pytest.importorskip("snntorch")
pytest.importorskip("norse.torch")

LIBRARIES = {"snntorch": (to_snntorch, from_snntorch), "norse": (to_norse, from_norse)}


@pytest.fixture(scope="module")
def vae() -> ConvVAE:
    return random_vae()


@pytest.fixture(scope="module")
def svae(vae: ConvVAE) -> SVAE:
    return vae_to_svae(vae, torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_round_trip_gives_the_original_vae(library: str, vae: ConvVAE, svae: SVAE) -> None:
    export, back = LIBRARIES[library]
    thresholds = {"S2": 0.37, "D1": 2.0}
    imported = back(export(svae, thresholds), svae=svae)
    assert isinstance(imported, SVAE)
    original, rebuilt = vae.state_dict(), svae_to_vae(imported).state_dict()
    assert set(original) == set(rebuilt)
    for key, want in original.items():
        got = rebuilt[key]
        if not want.is_floating_point():
            assert torch.equal(got, want), key
            continue
        scale = float(want.abs().max())
        stats = key[: -len("bias")] + "running_mean"
        if key.endswith(".bias") and stats in original:  # a BatchNorm's bias: b' + mean * s
            prefix = key[: -len("bias")]
            s = original[prefix + "weight"] / torch.sqrt(original[prefix + "running_var"] + 1e-5)
            scale = max(scale, float((original[stats] * s).abs().max()))
        err = float((got.double() - want.double()).abs().max())
        assert err <= 1e-6 * scale, (key, err, scale)


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_an_edit_in_the_library_comes_back(library: str, svae: SVAE) -> None:
    export, back = LIBRARIES[library]
    model = export(svae)
    with torch.no_grad():
        model.synapses["S3"].weight.mul_(0.5)
    imported = back(model, svae=svae)
    np.testing.assert_allclose(imported["S3"].weight, svae["S3"].weight * 0.5, rtol=1e-6,
                               atol=1e-7 * np.abs(svae["S3"].weight).max())  # fmt: skip
    np.testing.assert_array_equal(imported["logvar"].weight, svae["logvar"].weight)
    assert imported["S3"].scale == svae["S3"].scale


def test_neurons_that_are_not_ours_are_refused(svae: SVAE) -> None:
    model = to_snntorch(svae)
    with torch.no_grad():
        model.neurons["D2"].beta.fill_(0.9)
    with pytest.raises(ValueError, match=r"layer 'D2': Leaky with beta \[0.89"):
        from_snntorch(model, svae=svae)
    with pytest.raises(ValueError, match=r"layer 'S1': neuron Leaky"):
        from_norse(to_snntorch(svae), svae=svae)
    with pytest.raises(ValueError, match="svae: an exported spiking VAE needs the SVAE"):
        from_snntorch(to_snntorch(svae))


@pytest.mark.parametrize("bad", [None, "svae"])
def test_like_must_be_an_svae(bad: Any, svae: SVAE) -> None:
    with pytest.raises(TypeError, match="svae: expected a spikedefense.convert.SVAE"):
        from_norse(to_norse(svae), svae=bad if bad is not None else 3)
