"""lif_run against the slow reference, hand-computed trains, snnTorch and Norse."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DTYPES = [np.float32, np.float64]


def _currents(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return rng.uniform(-0.4, 0.9, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "params",
    [
        K.LIFParams(),
        K.LIFParams(beta=0.9, threshold=1.0, reset="zero"),
        K.LIFParams(beta=0.8, threshold=0.7, reset="subtract"),
        K.LIFParams(beta=1.0, threshold=1.3, reset="subtract", refractory=2),
        K.LIFParams(beta=0.95, threshold=0.5, reset="zero", refractory=1),
    ],
)
def test_lif_matches_reference(backend: str, dtype: type, params: K.LIFParams) -> None:
    rng = np.random.default_rng(1)
    currents = _currents(rng, (6, 5, 7), dtype)
    before = currents.copy()
    spikes, (v, _) = K.lif_run(currents, params, backend=backend)
    ref_s, ref_v = naive.lif_run(currents, *params)
    assert spikes.dtype == np.uint8 and spikes.shape == currents.shape
    assert v.dtype == dtype and v.shape == (5, 7)
    assert spikes.sum() > 0  # the case is not vacuous
    np.testing.assert_array_equal(spikes, ref_s)
    np.testing.assert_array_equal(v, ref_v)
    np.testing.assert_array_equal(currents, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lif_v0(backend: str, dtype: type) -> None:
    rng = np.random.default_rng(2)
    currents = _currents(rng, (4, 33), dtype)
    v0 = rng.uniform(-0.5, 1.2, size=33).astype(dtype)
    v0_before = v0.copy()
    params = K.LIFParams(beta=0.7, threshold=1.0, reset="subtract", refractory=1)
    spikes, (v, _) = K.lif_run(currents, params, v0, backend=backend)
    ref_s, ref_v = naive.lif_run(currents, *params, v0=v0)
    np.testing.assert_array_equal(spikes, ref_s)
    np.testing.assert_array_equal(v, ref_v)
    np.testing.assert_array_equal(v0, v0_before)
    # v0 above threshold fires at step 0 only if it survives the decay plus the input
    assert (spikes[0] == (np.asarray(dtype(0.7) * v0 + currents[0]) >= 1.0)).all()


def test_lif_large_cpu() -> None:
    """Many neurons (several CPU blocks) and a long run."""
    rng = np.random.default_rng(3)
    currents = rng.uniform(-0.2, 0.6, size=(40, 3000)).astype(np.float32)
    params = K.LIFParams(beta=0.9, threshold=1.0, reset="subtract", refractory=3)
    spikes, (v, _) = K.lif_run(currents, params, backend="cpu")
    ref_s, ref_v = naive.lif_run(currents, *params)
    np.testing.assert_array_equal(spikes, ref_s)
    np.testing.assert_array_equal(v, ref_v)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lif_hand_computed(backend: str, dtype: type) -> None:
    # zero reset, then subtract reset where the 4th step hits the threshold exactly
    # (0.25 + 0.75 == 1.0), which must fire (v >= threshold).
    cur = np.array([[0.75], [0.75], [0.75], [0.75]], dtype=dtype)
    s, (v, _) = K.lif_run(cur, K.LIFParams(reset="zero"), backend=backend)
    assert s[:, 0].tolist() == [0, 1, 0, 1] and v.tolist() == [0.0]
    s, (v, _) = K.lif_run(cur, K.LIFParams(reset="subtract"), backend=backend)
    # v: 0.75, 1.5 -> 0.5, 1.25 -> 0.25, 1.0 -> 0.0
    assert s[:, 0].tolist() == [0, 1, 1, 1] and v.tolist() == [0.0]

    # leak: beta 0.5, threshold 1: 0.75, 0.375 + 0.75 = 1.125 -> spike -> 0, 0.75
    cur = np.array([0.75, 0.75, 0.75], dtype=dtype)[:, None]
    s, (v, _) = K.lif_run(cur, K.LIFParams(beta=0.5), backend=backend)
    assert s[:, 0].tolist() == [0, 1, 0] and v.tolist() == [0.75]

    # refractory 2 with constant input 1: spikes every third step; v held at 0 meanwhile
    cur = np.ones((7, 1), dtype=dtype)
    s, (v, _) = K.lif_run(cur, K.LIFParams(refractory=2), backend=backend)
    assert s[:, 0].tolist() == [1, 0, 0, 1, 0, 0, 1] and v.tolist() == [0.0]
    s, (v, _) = K.lif_run(cur[:5], K.LIFParams(refractory=2), backend=backend)
    assert s[:, 0].tolist() == [1, 0, 0, 1, 0] and v.tolist() == [0.0]
    # input during refractoriness is discarded, not accumulated
    cur = np.array([1.0, 0.75, 0.75, 0.5], dtype=dtype)[:, None]
    s, (v, _) = K.lif_run(cur, K.LIFParams(refractory=1), backend=backend)
    assert s[:, 0].tolist() == [1, 0, 0, 1] and v.tolist() == [0.0]

    # v0 decays before the first input: 0.5 * 0.5 + 0.75 = 1.0 -> spike
    s, (v, _) = K.lif_run(np.array([[0.75]], dtype=dtype), K.LIFParams(beta=0.5),
                     np.array([0.5], dtype=dtype), backend=backend)
    assert s.tolist() == [[1]] and v.tolist() == [0.0]

    # negative input below threshold never fires; v_final is the leaky sum
    s, (v, _) = K.lif_run(np.full((3, 1), -0.5, dtype=dtype), K.LIFParams(beta=0.5),
                          backend=backend)
    assert s.sum() == 0 and v.tolist() == [-0.875]


def test_lif_threshold_and_beta_cast_to_dtype(backend: str) -> None:
    # float32(0.7) < 0.7: a float32 potential of float32(0.7) fires only if the threshold 0.7
    # is cast to float32 as specified; in float64 it fires trivially.
    assert float(np.float32(0.7)) < 0.7
    for dtype in DTYPES:
        cur = np.array([[0.7]], dtype=dtype)
        s, (v, _) = K.lif_run(cur, K.LIFParams(threshold=0.7), backend=backend)
        assert s.tolist() == [[1]]
    # beta 0.1 cast to float32: beta * v uses float32(0.1), not float64(0.1)
    cur = np.array([[0.3], [0.0]], dtype=np.float32)
    s, (v, _) = K.lif_run(cur, K.LIFParams(beta=0.1, threshold=5.0), backend=backend)
    assert v[0] == np.float32(0.1) * np.float32(0.3)


def test_lif_shapes(backend: str) -> None:
    rng = np.random.default_rng(4)
    for shape in [(1, 3), (3, 2, 3, 4), (2, 1)]:
        cur = rng.uniform(0, 1.5, size=shape).astype(np.float32)
        s, (v, _) = K.lif_run(cur, K.LIFParams(beta=0.5), backend=backend)
        ref_s, ref_v = naive.lif_run(cur, 0.5)
        assert s.shape == shape and v.shape == shape[1:]
        np.testing.assert_array_equal(s, ref_s)
        np.testing.assert_array_equal(v, ref_v)


def test_lif_non_contiguous_input() -> None:
    rng = np.random.default_rng(5)
    base = rng.uniform(0, 0.8, size=(5, 6, 8)).astype(np.float64)
    cur = base[:, ::2, 1::2]
    s, (v, _) = K.lif_run(cur, K.LIFParams(beta=0.75), backend="cpu")
    ref_s, ref_v = naive.lif_run(np.ascontiguousarray(cur), 0.75)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_array_equal(v, ref_v)


# --------------------------------------------------------------------------------------------
# snnTorch and Norse
# --------------------------------------------------------------------------------------------
# Dyadic inputs (multiples of 1/8) and dyadic betas keep every potential exact in float64 over
# these few steps (the grid is at most 2**-(3 + 3 T)), and a threshold of 1 + 2**-45 is never on
# that grid, so `v >= threshold` (ours) and `v > threshold` (theirs) cannot disagree.
TIE_FREE_THRESHOLD = 1.0 + 2.0**-45


def _dyadic_currents(seed: int, steps: int = 12, n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(-3, 8, size=(steps, n)) / 8.0).astype(np.float64)


def _snntorch_run(currents: np.ndarray, beta: float, threshold: float, reset: str) -> np.ndarray:
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    # Tensors keep the dtype: a Python float would become a float32 buffer, and
    # float32(1 + 2**-45) == 1 would reintroduce ties.
    dt = torch.float64 if currents.dtype == np.float64 else torch.float32
    lif = snn.Leaky(beta=torch.as_tensor(beta, dtype=dt),
                    threshold=torch.as_tensor(threshold, dtype=dt), reset_mechanism=reset)
    mem = lif.reset_mem()
    out = []
    with torch.no_grad():
        for t in range(currents.shape[0]):
            spk, mem = lif(torch.from_numpy(currents[t]), mem)
            out.append(spk.numpy().astype(np.uint8))
    return np.stack(out)


@pytest.mark.parametrize("beta", [0.5, 0.75, 0.875, 0.25])
def test_lif_equals_snntorch_zero_reset(beta: float) -> None:
    currents = _dyadic_currents(10)
    ours, _ = K.lif_run(currents, K.LIFParams(beta, TIE_FREE_THRESHOLD, "zero"), backend="cpu")
    theirs = _snntorch_run(currents, beta, TIE_FREE_THRESHOLD, "zero")
    assert ours.sum() > 10
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", [11, 12])
def test_lif_equals_snntorch_subtract_reset_beta_1(seed: int) -> None:
    currents = _dyadic_currents(seed, steps=16)
    params = K.LIFParams(1.0, TIE_FREE_THRESHOLD, "subtract")
    ours, _ = K.lif_run(currents, params, backend="cpu")
    theirs = _snntorch_run(currents, 1.0, TIE_FREE_THRESHOLD, "subtract")
    assert ours.sum() > 10
    # With subtraction several spikes in a row are possible (v stays above threshold).
    np.testing.assert_array_equal(ours, theirs)


def test_lif_equals_snntorch_float32() -> None:
    # float32: 8 steps at beta 0.5 keep the grid at 2**-11; threshold 1 + 2**-20 is off-grid.
    currents = _dyadic_currents(13, steps=8).astype(np.float32)
    th = 1.0 + 2.0**-20
    ours, _ = K.lif_run(currents, K.LIFParams(0.5, th, "zero"), backend="cpu")
    theirs = _snntorch_run(currents, 0.5, np.float32(th).item(), "zero")
    assert ours.sum() > 5
    np.testing.assert_array_equal(ours, theirs)


def _norse_run(currents: np.ndarray, dt_tau: float, threshold: float) -> np.ndarray:
    torch = pytest.importorskip("torch")
    norse_lif_box = pytest.importorskip("norse.torch.functional.lif_box")
    p = norse_lif_box.LIFBoxParameters(
        tau_mem_inv=torch.as_tensor(dt_tau / 0.001, dtype=torch.float64),
        v_leak=torch.as_tensor(0.0, dtype=torch.float64),
        v_th=torch.as_tensor(threshold, dtype=torch.float64),
        v_reset=torch.as_tensor(0.0, dtype=torch.float64),
    )
    state = norse_lif_box.LIFBoxFeedForwardState(v=torch.zeros(currents.shape[1],
                                                               dtype=torch.float64))
    out = []
    with torch.no_grad():
        for t in range(currents.shape[0]):
            z, state = norse_lif_box.lif_box_feed_forward_step(
                torch.from_numpy(currents[t]), state, p, dt=0.001
            )
            out.append(z.numpy().astype(np.uint8))
    return np.stack(out)


def test_lif_equals_norse_lif_box() -> None:
    """Norse: v' = v + dt/tau (v_leak - v + i), spike when v' > v_th, then v = v_reset.

    With dt/tau = 0.5 and v_leak = v_reset = 0 this is v' = 0.5 v + 0.5 i: our beta = 0.5 with
    currents scaled by 0.5 and reset="zero". (1/0.001 * 0.001 is not exactly 1 in floating
    point, so dt*tau_mem_inv is checked to be exactly 0.5 first.)
    """
    assert (0.5 / 0.001) * 0.001 == 0.5
    currents = _dyadic_currents(14, steps=12) * 2.0
    theirs = _norse_run(currents, 0.5, TIE_FREE_THRESHOLD)
    ours, _ = K.lif_run(currents * 0.5, K.LIFParams(0.5, TIE_FREE_THRESHOLD, "zero"),
                        backend="cpu")
    assert ours.sum() > 10
    np.testing.assert_array_equal(ours, theirs)


def test_lif_equals_norse_module() -> None:
    torch = pytest.importorskip("torch")
    norse = pytest.importorskip("norse.torch")
    currents = _dyadic_currents(15, steps=10) * 2.0
    p = norse.LIFBoxParameters(tau_mem_inv=torch.as_tensor(500.0, dtype=torch.float64),
                               v_th=torch.as_tensor(TIE_FREE_THRESHOLD, dtype=torch.float64))
    cell = norse.LIFBoxCell(p, dt=0.001)
    state = None
    out = []
    with torch.no_grad():
        for t in range(currents.shape[0]):
            z, state = cell(torch.from_numpy(currents[t]), state)
            out.append(z.detach().numpy().astype(np.uint8))
    theirs = np.stack(out)
    ours, _ = K.lif_run(currents * 0.5, K.LIFParams(0.5, TIE_FREE_THRESHOLD, "zero"),
                        backend="cpu")
    assert ours.sum() > 10
    np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(1, 15), max_size=4),
       refractory=st.integers(0, 3), reset=st.sampled_from(("subtract", "zero")))
def test_any_split_into_chunks_gives_the_spikes_of_one_call(
    backend: str, seed: int, cuts: list[int], refractory: int, reset: str
) -> None:
    rng = np.random.default_rng(seed)
    currents = rng.uniform(-0.3, 1.0, size=(16, 3, 5)).astype(np.float32)
    params = K.LIFParams(beta=0.9, threshold=0.8, reset=reset, refractory=refractory)
    whole, final = K.lif_run(currents, params, backend=backend)
    bounds = [0, *sorted(set(c for c in cuts if c < 16)), 16]
    parts, state = [], None
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        spikes, state = K.lif_run(currents[lo:hi], params, state, backend=backend)
        parts.append(spikes)
    assert state is not None
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(state.v, final.v)
    np.testing.assert_array_equal(state.refractory_left, final.refractory_left)
    ref_s, _ = naive.lif_run(currents, *params)
    np.testing.assert_array_equal(whole, ref_s)


def test_lif_step_is_one_step_of_lif_run(backend: str) -> None:
    rng = np.random.default_rng(5)
    currents = rng.uniform(-0.2, 0.9, size=(9, 7)).astype(np.float64)
    params = K.LIFParams(beta=0.95, threshold=0.7, reset="subtract", refractory=2)
    whole, final = K.lif_run(currents, params, backend=backend)
    state = None
    for t in range(9):
        spike, state = K.lif_step(currents[t], params, state, backend=backend)
        np.testing.assert_array_equal(spike, whole[t])
    assert state is not None
    np.testing.assert_array_equal(state.refractory_left, final.refractory_left)
    np.testing.assert_array_equal(state.v, final.v)
    with pytest.raises(ValueError, match="current: expected shape"):
        K.lif_step(np.float32(1.0), params)
