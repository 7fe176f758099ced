"""bernoulli_encode against the reference generator, and its statistics."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K
from spikedefense.kernels.rng import uniform_py

SEEDS = [0, 1, 12345, 2**63 + 5, 2**64 - 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 7, 2**64 - 1])
@pytest.mark.parametrize("gain", [1.0, 0.5, 3.0])
def test_encode_matches_reference(backend: str, dtype: type, seed: int, gain: float) -> None:
    rng = np.random.default_rng(seed % 1000)
    x = rng.uniform(-0.3, 1.3, size=(3, 7)).astype(dtype)
    before = x.copy()
    out = K.bernoulli_encode(x, 4, gain=gain, seed=seed, backend=backend)
    assert out.dtype == np.uint8 and out.shape == (4, 3, 7)
    np.testing.assert_array_equal(out, naive.bernoulli_encode(x, 4, gain=gain, seed=seed))
    np.testing.assert_array_equal(x, before)


def test_encode_uses_flat_c_order_index_and_step() -> None:
    """Spot-check the definition directly: element (1, 2) of a [2, 3] input has flat index 5."""
    x = np.full((2, 3), 0.5)
    for seed in (3, 99):
        out = K.bernoulli_encode(x, 6, seed=seed, backend="cpu")
        for t in range(6):
            assert out[t, 1, 2] == (uniform_py(seed, 5, t) < 0.5)
            assert out[t, 0, 0] == (uniform_py(seed, 0, t) < 0.5)


def test_encode_non_contiguous_input_uses_logical_index() -> None:
    base = np.linspace(0.0, 1.0, 48).reshape(6, 8)
    x = base[::2, 1::3]  # a strided view
    out = K.bernoulli_encode(x, 3, seed=5, backend="cpu")
    np.testing.assert_array_equal(out, naive.bernoulli_encode(np.ascontiguousarray(x), 3, seed=5))


def test_encode_p_below_zero_and_above_one(backend: str) -> None:
    x = np.array([[-1.0, 0.0, 1.0, 2.0]], dtype=np.float32)
    out = K.bernoulli_encode(x, 5, seed=3, backend=backend)
    assert out[:, 0, :2].sum() == 0  # p = 0: never (u >= 0 always)
    assert out[:, 0, 2:].min() == 1  # p = 1: always (u < 1 always)
    out = K.bernoulli_encode(x, 5, gain=0.0, seed=3, backend=backend)
    assert out.sum() == 0


def test_encode_rates_cpu() -> None:
    x = np.array([0.05, 0.3, 0.5, 0.9])[:, None] * np.ones((1, 5000))
    out = K.bernoulli_encode(x, 20, seed=42, backend="cpu")
    rates = out.mean(axis=(0, 2))
    # 100000 draws per row: standard error < 0.0016; 5 sigma
    np.testing.assert_allclose(rates, [0.05, 0.3, 0.5, 0.9], atol=0.008)
    # independence across steps and elements: correlation of consecutive steps ~ 0
    a = out[:-1, 2].astype(float).ravel()
    b = out[1:, 2].astype(float).ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    # gain scales the probability
    out = K.bernoulli_encode(np.full((5000,), 0.1), 20, gain=4.0, seed=1, backend="cpu")
    assert abs(out.mean() - 0.4) < 0.01


def test_encode_deterministic_and_seed_dependent(backend: str) -> None:
    x = np.full((40,), 0.5, dtype=np.float32)
    a = K.bernoulli_encode(x, 3, seed=10, backend=backend)
    b = K.bernoulli_encode(x, 3, seed=10, backend=backend)
    c = K.bernoulli_encode(x, 3, seed=11, backend=backend)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    # steps differ from one another (the step is part of the key)
    assert (a[0] != a[1]).any() and (a[1] != a[2]).any()


def test_encode_prefix_consistency() -> None:
    """More steps extend the train: the first steps do not depend on how many are asked for."""
    x = np.full((2, 5), 0.4)
    short = K.bernoulli_encode(x, 3, seed=8, backend="cpu")
    long = K.bernoulli_encode(x, 9, seed=8, backend="cpu")
    np.testing.assert_array_equal(long[:3], short)

