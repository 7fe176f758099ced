"""The spiking VAE on the core: layers equal torch's ops, rates approach the VAE, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from spikedefense.kernels import bernoulli_encode
from test_convert import random_vae

from spikedefense.convert import vae_to_svae
from spikedefense.snn.layers import SpikingLayer, fire, layer_currents, potential_at_first_spike
from spikedefense.snn.network import SpikingVAE, reconstruction_error_table


@pytest.fixture(scope="module")
def models():
    vae = random_vae(seed=4)
    calibration = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    return vae, vae_to_svae(vae, calibration)


def test_layer_currents_equal_torch_ops():
    rng = np.random.default_rng(0)
    spikes = (rng.random((3, 2, 4, 9, 9)) < 0.3).astype(np.uint8)
    conv = SpikingLayer(
        "conv",
        rng.normal(size=(5, 4, 3, 3)).astype(np.float32),
        rng.normal(size=5).astype(np.float32),
        2,
        1,
    )
    out = layer_currents(conv, spikes)
    ref = F.conv2d(
        torch.from_numpy(spikes.reshape(6, 4, 9, 9)).float(),
        torch.from_numpy(conv.weight),
        torch.from_numpy(conv.bias),
        2,
        1,
    )
    assert np.allclose(out.reshape(ref.shape), ref.numpy(), atol=1e-5)
    deconv = SpikingLayer(
        "deconv",
        rng.normal(size=(4, 3, 4, 4)).astype(np.float32),
        rng.normal(size=3).astype(np.float32),
        2,
        1,
    )
    out = layer_currents(deconv, spikes)
    ref = F.conv_transpose2d(
        torch.from_numpy(spikes.reshape(6, 4, 9, 9)).float(),
        torch.from_numpy(deconv.weight),
        torch.from_numpy(deconv.bias),
        2,
        1,
    )
    assert np.allclose(out.reshape(ref.shape), ref.numpy(), atol=1e-5)


def test_if_neurons_and_potential_at_first_spike():
    currents = np.array([[0.4, 2.5], [0.4, 0.0], [0.4, 0.1], [0.4, 0.0]], np.float32)
    spikes = fire(currents, 1.0)
    assert spikes[:, 0].tolist() == [0, 0, 1, 0] and spikes[:, 1].tolist() == [1, 1, 0, 0]
    first = np.array([2, 0])
    assert np.allclose(potential_at_first_spike(currents, first), [1.2, 2.5])
    assert potential_at_first_spike(currents, np.array([-1, -1])).tolist() == [0.0, 0.0]


def test_reconstruction_approaches_the_vae_as_steps_grow(models):
    vae, svae = models
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(8))
    rows = reconstruction_error_table(vae, svae, images, steps=(4, 64))
    assert rows[1]["mse"] < rows[0]["mse"] / 4
    assert rows[1]["mse_mu"] < rows[0]["mse_mu"]


def test_run_is_seeded_and_records_every_spiking_layer(models):
    _, svae = models
    net = SpikingVAE(svae)
    x = torch.rand(2, 1, 28, 28)
    a = net.run(x, 6, seed=3, record=True)
    b = net.run(x, 6, seed=3)
    assert torch.equal(a.reconstruction, b.reconstruction) and b.records == {}
    assert sorted(a.records) == ["D0", "D1", "D2", "D3", "S1", "S2", "S3", "S4"]
    assert a.records["S1"].shape == (2, 64, 28, 28) and a.records["S1"].steps == 6
    encoded = bernoulli_encode(x.numpy(), 6, seed=3)
    currents = layer_currents(net.layers["S1"], encoded)
    assert np.array_equal(a.records["S1"].to_dense(), fire(currents, 1.0))


@pytest.mark.parametrize("steps, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                          (True, TypeError)])  # fmt: skip
def test_bad_steps(models, steps, error):
    with pytest.raises(error, match="steps"):
        SpikingVAE(models[1]).run(torch.rand(1, 1, 28, 28), steps)


def test_bad_arguments(models):
    vae, svae = models
    with pytest.raises(ValueError, match="backend"):
        SpikingVAE(svae, backend="gpu")
    with pytest.raises(TypeError, match="svae"):
        SpikingVAE(vae)
    with pytest.raises(ValueError, match="thresholds"):
        SpikingVAE(svae, thresholds={"mu": 2.0})
    with pytest.raises(ValueError, match="images"):
        SpikingVAE(svae).run(torch.rand(1, 1, 28, 28) + 1, 4)
    with pytest.raises(ValueError, match=r"images: expected shape \[B, 1, 28, 28\]"):
        SpikingVAE(svae).run(torch.rand(2, 1, 14, 14), 4)
    with pytest.raises(ValueError, match=r"images: expected shape \[B, 1, 28, 28\]"):
        reconstruction_error_table(vae, svae, torch.rand(2, 1, 14, 14), (4,))
    with pytest.raises(ValueError, match=r"thresholds\['S2'\]: expected a finite number > 0"):
        SpikingVAE(svae, thresholds={"S2": -1.0})
