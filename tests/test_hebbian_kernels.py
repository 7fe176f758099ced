"""Hebbian learning with competing hidden units: the fast rule and the slow rule against their
references, on both backends, with bad input refused before any work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import naive
import numpy as np
import pytest
import spikedefense.kernels as K

F32 = np.float32


def _grid(rng: np.random.Generator, shape: tuple[int, ...], low: int, high: int, scale: float,
          dtype: type) -> np.ndarray:
    """Multiples of ``scale``: with few features every current is exact in any summation order,
    so rankings (ties included) cannot depend on the backend's arithmetic."""
    return (rng.integers(low, high, size=shape) * scale).astype(dtype)


def _hebbian_reference(weight: np.ndarray, inputs: np.ndarray,
                       params: K.HebbianParams) -> np.ndarray:
    return naive.hebbian_update(weight, inputs, params.p, params.k, params.delta,
                                params.learning_rate, params.precision)


# --------------------------------------------------------------------------------------------
# fast rule
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("units,features,batch,p,k,seed", [
    (20, 30, 5, 2.0, 2, 0), (100, 784, 100, 2.0, 2, 1), (300, 784, 100, 3.0, 7, 2),
    (50, 40, 64, 1.0, 1, 3), (60, 25, 9, 4.5, 3, 4), (40, 16, 200, 4.0, 40, 5),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hebbian_update_equals_notebook(units: int, features: int, batch: int, p: float, k: int,
                                        seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(units, features)).astype(dtype)
    inputs = rng.random((batch, features)).astype(dtype)
    before = (weight.copy(), inputs.copy())
    params = K.HebbianParams(p=p, k=k)
    new = K.hebbian_update(weight, inputs, params, backend="cpu")
    assert new.dtype == dtype and new.shape == weight.shape
    want = _hebbian_reference(weight, inputs, params)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(new, want, rtol=tol, atol=tol)
    np.testing.assert_array_equal(weight, before[0])
    np.testing.assert_array_equal(inputs, before[1])
    assert np.abs(new - weight).max() == pytest.approx(params.learning_rate, rel=1e-5)


@pytest.mark.parametrize("p,k,seed", [(2.0, 2, 0), (3.0, 3, 1), (1.0, 1, 2), (2.0, 6, 3)])
def test_hebbian_update_ties_rank_by_lowest_unit(p: float, k: int, seed: int) -> None:
    """Grid values make many currents equal; the reference ranks them by lowest index."""
    rng = np.random.default_rng(seed)
    weight = _grid(rng, (12, 6), -3, 4, 0.5, F32)
    inputs = _grid(rng, (15, 6), 0, 3, 0.5, F32)
    params = K.HebbianParams(p=p, k=k)
    new = K.hebbian_update(weight, inputs, params, backend="cpu")
    np.testing.assert_allclose(new, _hebbian_reference(weight, inputs, params), rtol=1e-6,
                               atol=1e-7)


def test_only_ranked_units_change() -> None:
    rng = np.random.default_rng(6)
    weight = rng.normal(size=(200, 30)).astype(F32)
    inputs = rng.random((8, 30)).astype(F32)
    params = K.HebbianParams(p=3.0, k=4)
    new = K.hebbian_update(weight, inputs, params, backend="cpu")
    ranked = K.kwta_topk(np.ascontiguousarray((np.sign(weight) * weight**2 @ inputs.T).T), 4,
                         backend="cpu")
    changed = np.flatnonzero((new != weight).any(axis=1))
    assert set(changed) <= set(ranked[:, 0]) | set(ranked[:, 3])
    assert len(changed) >= 2


def test_k1_gives_the_top_unit_minus_delta() -> None:
    """The notebook writes -delta over the top unit's 1 when k = 1; so do we."""
    weight = np.array([[2.0, 0.0], [0.0, 1.0], [0.5, 0.5]], F32)
    inputs = np.array([[1.0, 0.0]], F32)
    new = K.hebbian_update(weight, inputs, K.HebbianParams(k=1, delta=0.4), backend="cpu")
    # I = (2, 0, 0.5): unit 0 alone has g = -0.4; ds_0 = -0.4 v + 0.8 W_0 = (1.2, 0)
    np.testing.assert_allclose(new, [[2.02, 0.0], [0.0, 1.0], [0.5, 0.5]], rtol=1e-6)


def test_zero_inputs_change_nothing(backend: str) -> None:
    """Every ds is 0: the normaliser is the precision floor and the weight stays as it was."""
    weight = np.arange(12, dtype=F32).reshape(4, 3) - 5
    new = K.hebbian_update(weight, np.zeros((3, 3), F32), K.HebbianParams(), backend=backend)
    np.testing.assert_array_equal(new, weight)


@pytest.mark.cudasim
@pytest.mark.parametrize("units,features,batch,p,k,dtype", [
    (7, 5, 4, 2.0, 2, np.float32), (9, 6, 5, 3.0, 3, np.float32),
    (6, 4, 6, 1.0, 1, np.float64), (5, 3, 8, 2.0, 5, np.float64),
])
def test_hebbian_update_cuda_equals_cpu(cuda_backend: str, units: int, features: int,
                                        batch: int, p: float, k: int, dtype: type) -> None:
    """Exact currents (grid values) leave the same bits to every later step on both backends."""
    rng = np.random.default_rng(units + batch)
    weight = _grid(rng, (units, features), -16, 16, 0.125, dtype)
    inputs = _grid(rng, (batch, features), 0, 8, 0.125, dtype)
    before = weight.copy()
    params = K.HebbianParams(p=p, k=k)
    got = K.hebbian_update(weight, inputs, params, backend=cuda_backend)
    assert isinstance(got, np.ndarray) and got.dtype == dtype
    np.testing.assert_array_equal(got, K.hebbian_update(weight, inputs, params, backend="cpu"))
    np.testing.assert_array_equal(weight, before)
    np.testing.assert_allclose(got, _hebbian_reference(weight, inputs, params), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.cudasim
def test_hebbian_update_cuda_fractional_p(cuda_backend: str) -> None:
    rng = np.random.default_rng(8)
    weight = rng.normal(size=(6, 4)).astype(F32)
    inputs = rng.random((3, 4)).astype(F32)
    params = K.HebbianParams(p=2.5, k=2)
    np.testing.assert_allclose(K.hebbian_update(weight, inputs, params, backend=cuda_backend),
                               _hebbian_reference(weight, inputs, params), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# bad input: named, raised before any work, nothing modified
# --------------------------------------------------------------------------------------------
W = np.full((4, 3), 0.5, F32)
V = np.full((2, 3), 0.25, F32)


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


def _fast(weight: Any = None, inputs: Any = None, params: Any = None) -> tuple[Callable, list]:
    weight = W.copy() if weight is None else weight
    inputs = V.copy() if inputs is None else inputs
    params = K.HebbianParams() if params is None else params
    arrays = [a for a in (weight, inputs) if isinstance(a, np.ndarray)]
    return (lambda: K.hebbian_update(weight, inputs, params, backend="cpu")), arrays


BAD: list[tuple[str, type, str, Callable[[], tuple[Callable, list]]]] = [
    ("fast-k-too-large", ValueError, r"params\.k", lambda: _fast(params=K.HebbianParams(k=5))),
    ("fast-k-zero", ValueError, r"params\.k", lambda: _fast(params=K.HebbianParams(k=0))),
    ("fast-k-float", ValueError, r"params\.k", lambda: _fast(params=K.HebbianParams(k=2.0))),
    ("fast-p-below-1", ValueError, r"params\.p", lambda: _fast(params=K.HebbianParams(p=0.5))),
    ("fast-p-nan", ValueError, r"params\.p",
     lambda: _fast(params=K.HebbianParams(p=float("nan")))),
    ("fast-precision", ValueError, r"params\.precision",
     lambda: _fast(params=K.HebbianParams(precision=0.0))),
    ("fast-delta", ValueError, r"params\.delta", lambda: _fast(params=K.HebbianParams(delta=-1))),
    ("fast-params-type", TypeError, "params", lambda: _fast(params=(2.0, 2, 0.4, 0.02, 1e-30))),
    ("fast-weight-nan", ValueError, "weight", lambda: _fast(weight=_with(W, (1, 2), np.nan))),
    ("fast-weight-inf", ValueError, "weight", lambda: _fast(weight=_with(W, (0, 0), np.inf))),
    ("fast-inputs-nan", ValueError, "inputs", lambda: _fast(inputs=_with(V, (1, 0), np.nan))),
    ("fast-inputs-inf", ValueError, "inputs", lambda: _fast(inputs=_with(V, (0, 1), -np.inf))),
    ("fast-weight-columns", ValueError, "weight", lambda: _fast(weight=np.ones((4, 5), F32))),
    ("fast-empty-batch", ValueError, "inputs", lambda: _fast(inputs=np.ones((0, 3), F32))),
    ("fast-weight-1d", ValueError, "weight", lambda: _fast(weight=np.ones(3, F32))),
    ("fast-inputs-3d", ValueError, "inputs", lambda: _fast(inputs=np.ones((2, 3, 1), F32))),
    ("fast-weight-int", TypeError, "weight", lambda: _fast(weight=np.ones((4, 3), np.int64))),
    ("fast-inputs-f16", TypeError, "inputs", lambda: _fast(inputs=np.ones((2, 3), np.float16))),
    ("fast-dtypes-differ", TypeError, "inputs", lambda: _fast(inputs=V.astype(np.float64))),
]


@pytest.mark.parametrize("exc,name,build", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(exc: type, name: str, build: Callable[[], tuple[Callable, list]]) -> None:
    call, arrays = build()
    copies = [a.copy() for a in arrays]
    with pytest.raises(exc, match=rf"^{name}"):
        call()
    for before, after in zip(copies, arrays, strict=True):
        np.testing.assert_array_equal(after, before)
        assert after.dtype == before.dtype
