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
# slow rule
# --------------------------------------------------------------------------------------------
FAST_RELAX = K.CompetingParams(dt=0.005)  # dt / tau_r = 0.1: a few hundred steps per sample


def _steady_reference(currents: np.ndarray, params: K.CompetingParams) -> tuple:
    return naive.competing_steady_state(currents, params.w_inh, params.tau_r, params.dt,
                                        params.tolerance, params.max_steps)


def _residual(currents: np.ndarray, rates: np.ndarray, params: K.CompetingParams) -> np.ndarray:
    """(dt / tau_r) * max_mu |I - w_inh sum_{nu != mu} relu(h_nu) - h_mu| per row, float64."""
    h = rates.astype(np.float64)
    relu = np.maximum(h, 0.0)
    others = relu.sum(axis=1, keepdims=True) - relu
    rhs = currents.astype(np.float64) - params.w_inh * others - h
    return params.dt / params.tau_r * np.abs(rhs).max(axis=1)


@pytest.mark.parametrize("batch,units,scale,seed", [(4, 12, 10.0, 0), (3, 40, 30.0, 1),
                                                    (6, 5, 2.0, 2), (2, 1, 5.0, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_steady_state_equals_euler_loop(batch: int, units: int, scale: float, seed: int,
                                        dtype: type) -> None:
    rng = np.random.default_rng(seed)
    currents = (rng.random((batch, units)) * scale - 0.1 * scale).astype(dtype)
    before = currents.copy()
    rates, steps = K.competing_steady_state(currents, FAST_RELAX, backend="cpu")
    want_rates, want_steps = _steady_reference(currents, FAST_RELAX)
    assert rates.dtype == dtype and steps.dtype == np.int64
    np.testing.assert_array_equal(steps, want_steps)
    np.testing.assert_array_equal(rates, want_rates)
    assert (steps > 0).all()
    np.testing.assert_array_equal(currents, before)


def test_steady_state_is_a_fixed_point() -> None:
    """What the criterion promises, checked from the equation: at the returned rates one more
    Euler step would move no unit by tolerance or more; and inhibition leaves few units on."""
    rng = np.random.default_rng(4)
    weight = rng.random((60, 50))
    inputs = (rng.random((5, 50)) < 0.3).astype(np.float64)
    currents = inputs @ weight.T
    for params in (K.CompetingParams(), FAST_RELAX, FAST_RELAX._replace(tolerance=1e-9)):
        rates, steps = K.competing_steady_state(currents, params, backend="cpu")
        assert (steps > 0).all()
        assert (_residual(currents, rates, params) < params.tolerance).all()
        assert ((rates > 0).sum(axis=1) < 60 // 2).all()
    # a float32 result is the float64 state rounded once
    rates32, _ = K.competing_steady_state(currents.astype(F32), FAST_RELAX, backend="cpu")
    assert (_residual(currents.astype(F32), rates32, FAST_RELAX) < 2 * FAST_RELAX.tolerance).all()


def test_steady_state_reports_rows_that_did_not_converge(backend: str) -> None:
    currents = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, 2.0], [0.0, 0.0, 0.0]], F32)
    rates, steps = K.competing_steady_state(currents, FAST_RELAX._replace(max_steps=20),
                                            backend=backend)
    assert steps.tolist() == [0, -1, 0]  # h = 0 is already steady without any current
    assert np.isnan(rates[1]).all()
    np.testing.assert_array_equal(rates[[0, 2]], 0.0)
    rates, steps = K.competing_steady_state(currents, FAST_RELAX._replace(max_steps=0),
                                            backend=backend)
    assert steps.tolist() == [0, -1, 0] and np.isnan(rates[1]).all()
    # an Euler step far too long for the inhibition overflows: not converged either
    rates, steps = K.competing_steady_state(currents * 1e30, FAST_RELAX._replace(dt=1.0),
                                            backend=backend)
    assert steps.tolist() == [0, -1, 0] and np.isnan(rates[1]).all()


@pytest.mark.parametrize("batch,units,features,seed", [(4, 12, 7, 0), (8, 30, 20, 1),
                                                       (1, 5, 3, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_competing_update_equals_reference(batch: int, units: int, features: int, seed: int,
                                           dtype: type) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.random((units, features)).astype(dtype)
    inputs = rng.random((batch, features)).astype(dtype)
    rates = (rng.random((batch, units)) * 8 - 2).astype(dtype)  # all three regimes of g
    before = [a.copy() for a in (weight, inputs, rates)]
    p = FAST_RELAX
    new = K.competing_update(weight, inputs, rates, p, backend="cpu")
    want = naive.competing_update(weight, inputs, rates, p.h_star, p.delta, p.tau_w, p.dt_w)
    assert new.dtype == dtype
    np.testing.assert_allclose(new, want, rtol=1e-6 if dtype == F32 else 1e-14, atol=1e-7)
    for a, b in zip(before, (weight, inputs, rates), strict=True):
        np.testing.assert_array_equal(a, b)


def test_competing_update_regimes(backend: str) -> None:
    """g = 0 at h <= 0, -delta for 0 < h < h_star, 1 from h_star on; samples are summed."""
    weight = np.array([[0.5, 0.0], [0.5, 0.0], [0.5, 0.0], [0.5, 0.0]])
    inputs = np.array([[1.0, 0.0]])
    p = K.CompetingParams()
    step = p.dt_w / p.tau_w
    rates = np.array([[0.0, 1.0, p.h_star, -2.0]])
    new = K.competing_update(weight, inputs, rates, p, backend=backend)
    # v - (W.v) W = (1, 0) - 0.5 (0.5, 0) = (0.75, 0)
    np.testing.assert_allclose(new[:, 0], [0.5, 0.5 - p.delta * step * 0.75,
                                           0.5 + step * 0.75, 0.5])
    twice = K.competing_update(weight, np.repeat(inputs, 2, axis=0), np.repeat(rates, 2, axis=0),
                               p, backend=backend)
    np.testing.assert_allclose(twice - weight, 2 * (new - weight))
    np.testing.assert_array_equal(new[:, 1], 0.0)


def test_fast_relaxation_then_update_runs_end_to_end() -> None:
    rng = np.random.default_rng(9)
    weight = rng.random((30, 16))
    inputs = (rng.random((4, 16)) < 0.4).astype(np.float64)
    state = K.competing_steady_state(inputs @ weight.T, FAST_RELAX)
    assert isinstance(state, K.SteadyState) and (state.steps_taken > 0).all()
    new = K.competing_update(weight, inputs, state.rates, FAST_RELAX)
    assert (new != weight).any() and np.isfinite(new).all()


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_slow_rule_cuda_equals_cpu(cuda_backend: str, dtype: type) -> None:
    rng = np.random.default_rng(10)
    currents = (rng.random((3, 6)) * 8).astype(dtype)
    params = FAST_RELAX._replace(tolerance=1e-4)
    rates, steps = K.competing_steady_state(currents, params, backend=cuda_backend)
    want = K.competing_steady_state(currents, params, backend="cpu")
    assert isinstance(rates, np.ndarray) and rates.dtype == dtype
    np.testing.assert_array_equal(steps, want.steps_taken)
    np.testing.assert_array_equal(rates, want.rates)
    weight = rng.random((6, 5)).astype(dtype)
    inputs = rng.random((3, 5)).astype(dtype)
    np.testing.assert_array_equal(
        K.competing_update(weight, inputs, rates, params, backend=cuda_backend),
        K.competing_update(weight, inputs, rates, params, backend="cpu"))


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


CUR = np.full((2, 4), 1.5, F32)
RATES = np.full((2, 4), 1.0, F32)


def _steady(currents: Any = None, params: Any = None) -> tuple[Callable, list]:
    currents = CUR.copy() if currents is None else currents
    params = K.CompetingParams() if params is None else params
    arrays = [currents] if isinstance(currents, np.ndarray) else []
    return (lambda: K.competing_steady_state(currents, params, backend="cpu")), arrays


def _slow(weight: Any = None, inputs: Any = None, rates: Any = None,
          params: Any = None) -> tuple[Callable, list]:
    weight = W.copy() if weight is None else weight
    inputs = V.copy() if inputs is None else inputs
    rates = RATES.copy() if rates is None else rates
    params = K.CompetingParams() if params is None else params
    arrays = [a for a in (weight, inputs, rates) if isinstance(a, np.ndarray)]
    return (lambda: K.competing_update(weight, inputs, rates, params, backend="cpu")), arrays


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
    ("steady-nan", ValueError, "currents", lambda: _steady(_with(CUR, (1, 3), np.nan))),
    ("steady-inf", ValueError, "currents", lambda: _steady(_with(CUR, (0, 0), np.inf))),
    ("steady-int", TypeError, "currents", lambda: _steady(np.ones((2, 4), np.int32))),
    ("steady-1d", ValueError, "currents", lambda: _steady(np.ones(4, F32))),
    ("steady-empty-batch", ValueError, "currents", lambda: _steady(np.ones((0, 4), F32))),
    ("steady-params-type", TypeError, "params", lambda: _steady(params=K.HebbianParams())),
    ("steady-tau", ValueError, r"params\.tau_r",
     lambda: _steady(params=K.CompetingParams(tau_r=0.0))),
    ("steady-dt", ValueError, r"params\.dt", lambda: _steady(params=K.CompetingParams(dt=-1))),
    ("steady-tolerance", ValueError, r"params\.tolerance",
     lambda: _steady(params=K.CompetingParams(tolerance=0.0))),
    ("steady-max-steps", ValueError, r"params\.max_steps",
     lambda: _steady(params=K.CompetingParams(max_steps=-1))),
    ("steady-w-inh", ValueError, r"params\.w_inh",
     lambda: _steady(params=K.CompetingParams(w_inh=float("inf")))),
    ("slow-rates-nan-row", ValueError, "rates: row 1",
     lambda: _slow(rates=_with(RATES, (1, 2), np.nan))),
    ("slow-rates-inf", ValueError, "rates", lambda: _slow(rates=_with(RATES, (0, 0), np.inf))),
    ("slow-rates-shape", ValueError, "rates", lambda: _slow(rates=np.ones((3, 4), F32))),
    ("slow-rates-int", TypeError, "rates", lambda: _slow(rates=np.ones((2, 4), np.int64))),
    ("slow-weight-nan", ValueError, "weight", lambda: _slow(weight=_with(W, (3, 1), np.nan))),
    ("slow-inputs-inf", ValueError, "inputs", lambda: _slow(inputs=_with(V, (0, 2), np.inf))),
    ("slow-weight-columns", ValueError, "weight", lambda: _slow(weight=np.ones((4, 2), F32))),
    ("slow-empty-batch", ValueError, "inputs",
     lambda: _slow(inputs=np.ones((0, 3), F32), rates=np.ones((0, 4), F32))),
    ("slow-weight-3d", ValueError, "weight", lambda: _slow(weight=np.ones((4, 3, 1), F32))),
    ("slow-inputs-int", TypeError, "inputs", lambda: _slow(inputs=np.ones((2, 3), np.int16))),
    ("slow-h-star", ValueError, r"params\.h_star",
     lambda: _slow(params=K.CompetingParams(h_star=0.0))),
    ("slow-tau-w", ValueError, r"params\.tau_w",
     lambda: _slow(params=K.CompetingParams(tau_w=float("nan")))),
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
