"""(Mirrored) STDP and the Tadros rule: hand-computed cases, the reference, invariants."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K
from hypothesis import given, settings
from hypothesis import strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-7, np.float64: 1e-15}

# 1-channel 3x3 input: first-spike steps (-1 = never fired)
PRE = np.array([[[0, 2, -1],
                 [1, 3, 0],
                 [-1, -1, 5]]], dtype=np.int64)


def _w(dtype: type) -> np.ndarray:
    w = np.full((2, 1, 2, 2), 0.5, dtype=dtype)
    w[0, 0] = [[0.5, 0.25], [0.75, 0.5]]
    return w


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_conv_hand_computed(backend: str, dtype: type) -> None:
    """2x2 kernel, stride 1, no padding; one winner (map 0, y=0, x=1) that fired at step 2.

    Its receptive field is input rows 0-1, columns 1-2: first spikes [[2, -1], [3, 0]].
    - (0,0): t_pre 2 <= 2: causal,   dw = +0.004 * 0.5  * 0.5  = +0.001
    - (0,1): never fired: acausal,   dw = -0.003 * 0.25 * 0.75 = -0.0005625
    - (1,0): t_pre 3 >  2: acausal,  dw = -0.003 * 0.75 * 0.25 = -0.0005625
    - (1,1): t_pre 0 <= 2: causal,   dw = +0.004 * 0.5  * 0.5  = +0.001
    Map 1 has no winner and stays as it was.
    """
    w = _w(dtype)
    w0 = w.copy()
    post = np.full((2, 2, 2), -1, dtype=np.int64)
    post[0, 0, 1] = 2
    winners = np.array([[0, 0, 1]])
    new = K.stdp_conv(w, PRE, post, winners, 1, 0, K.STDPParams(), backend=backend)
    assert isinstance(new, np.ndarray) and new.dtype == dtype and new.shape == w.shape
    want = np.array([[0.501, 0.2494375], [0.7494375, 0.501]])
    np.testing.assert_allclose(new[0, 0], want, rtol=0, atol=TOL[dtype])
    np.testing.assert_array_equal(new[1], w0[1])
    np.testing.assert_array_equal(w, w0)  # a new array; the input is untouched
    np.testing.assert_array_equal(new, naive.stdp_conv(w, PRE, post, winners, 1, 0,
                                                       K.STDPParams()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_conv_padding_counts_as_never_fired(backend: str, dtype: type) -> None:
    """Stride 2, padding 1: the winner at (0, 0) sees three padded positions and input (0, 0).

    Padding -> acausal: 0.5 - 0.003 * 0.25 = 0.49925; input (0, 0) fired at step 0 = t_post:
    "no later than" -> causal: 0.5 + 0.004 * 0.25 = 0.501.
    """
    w = np.full((1, 1, 2, 2), 0.5, dtype=dtype)
    post = np.zeros((1, 2, 2), dtype=np.int64)
    new = K.stdp_conv(w, PRE, post, np.array([[0, 0, 0]]), 2, 1, K.STDPParams(), backend=backend)
    np.testing.assert_allclose(new[0, 0], [[0.49925, 0.49925], [0.49925, 0.501]], rtol=0,
                               atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_conv_two_winners_same_map_apply_in_turn(backend: str, dtype: type) -> None:
    # every input fired at step 0, every output at step 0: all causal; both receptive fields of
    # (0,0,0) and (0,1,1) use the same four weights, updated twice:
    # 0.5 -> 0.501 -> 0.501 + 0.004 * 0.501 * 0.499 = 0.501999996
    w = np.full((1, 1, 2, 2), 0.5, dtype=dtype)
    pre = np.zeros((1, 3, 3), dtype=np.int64)
    post = np.zeros((1, 2, 2), dtype=np.int64)
    new = K.stdp_conv(w, pre, post, np.array([[0, 0, 0], [0, 1, 1]]), 1, 0, K.STDPParams(),
                      backend=backend)
    np.testing.assert_allclose(new, np.full(w.shape, 0.501999996), rtol=0, atol=4 * TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_conv_mirror(backend: str, dtype: type) -> None:
    w = _w(dtype)
    post = np.full((2, 2, 2), -1, dtype=np.int64)
    post[0, 0, 1] = 2
    mirror = np.full(w.shape, 0.5, dtype=dtype)
    mirror[0, 0, 0, 0] = 1.0  # dw > 0 here: clipped at 1
    mirror[0, 0, 0, 1] = 0.0  # dw < 0 here: clipped at 0
    m0 = mirror.copy()
    params = K.STDPParams(mirror_scale=0.5)
    out = K.stdp_conv(w, PRE, post, np.array([[0, 0, 1]]), 1, 0, params, mirror=mirror,
                      backend=backend)
    assert isinstance(out, tuple) and len(out) == 2
    new, new_m = out
    assert new_m.dtype == dtype and new_m.shape == w.shape
    np.testing.assert_array_equal(mirror, m0)
    np.testing.assert_allclose(new[0, 0], [[0.501, 0.2494375], [0.7494375, 0.501]], rtol=0,
                               atol=TOL[dtype])
    # mirror: 0.5 * dw added, then clipped to [0, 1]
    np.testing.assert_allclose(new_m[0, 0], [[1.0, 0.0], [0.5 - 0.00028125, 0.5005]], rtol=0,
                               atol=TOL[dtype])
    np.testing.assert_array_equal(new_m[1], m0[1])
    ref_w, ref_m = naive.stdp_conv(w, PRE, post, np.array([[0, 0, 1]]), 1, 0, params,
                                   mirror=mirror)
    np.testing.assert_array_equal(new, ref_w)
    np.testing.assert_array_equal(new_m, ref_m)


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_conv_into_updates_the_arrays_themselves(backend: str, dtype: type) -> None:
    """The in-place form gives :func:`stdp_conv`'s bits, in the caller's arrays (any layout)."""
    rng = np.random.default_rng(4)
    w = rng.uniform(0.05, 0.95, (3, 2, 3, 3)).astype(dtype)
    mirror = rng.uniform(0.05, 0.95, w.shape).astype(dtype)
    pre = rng.integers(-1, 4, (2, 5, 5))
    post = rng.integers(-1, 4, (3, 5, 5))
    winners = np.array([[0, 1, 1], [2, 4, 0], [0, 3, 3]])
    post[tuple(winners.T)] = 2
    want_w, want_m = K.stdp_conv(w, pre, post, winners, 1, 1, mirror=mirror, backend=backend)
    into_w = np.ascontiguousarray(w.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    into_m = mirror.copy()
    assert K.stdp_conv_into(into_w, pre, post, winners, 1, 1, mirror=into_m,
                            backend=backend) is None
    np.testing.assert_array_equal(into_w, want_w)
    np.testing.assert_array_equal(into_m, want_m)
    alone = w.copy()
    K.stdp_conv_into(alone, pre, post, winners, 1, 1, backend=backend)
    np.testing.assert_array_equal(alone, K.stdp_conv(w, pre, post, winners, 1, 1,
                                                     backend=backend))
    frozen = w.copy()
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match="weight: expected a writeable NumPy or device array"):
        K.stdp_conv_into(frozen, pre, post, winners, 1, 1, backend=backend)
    with pytest.raises(TypeError, match="mirror: expected a writeable NumPy or device array"):
        K.stdp_conv_into(w.copy(), pre, post, winners, 1, 1, mirror=mirror.tolist(),
                         backend=backend)


def test_stdp_params_deltas_are_used(backend: str) -> None:
    params = K.STDPParams(a_r_plus=0.01, a_r_minus=-0.02, a_p_plus=0.03, a_p_minus=-0.04,
                          alpha=0.5, beta=2.0, phi_r=1.0, phi_p=0.5)
    # causal = 0.5*1*0.01 + 2*0.5*(-0.04) = -0.035; acausal = 0.5*1*(-0.02) + 2*0.5*0.03 = 0.02
    causal, acausal = params.deltas()
    assert causal == pytest.approx(-0.035, abs=1e-15)
    assert acausal == pytest.approx(0.02, abs=1e-15)
    w = np.full((1, 3), 0.5)
    new = K.stdp_dense(w, np.array([0, 5, -1]), np.array([2]), np.array([0]), params,
                       backend=backend)
    np.testing.assert_allclose(new[0], [0.5 - 0.035 * 0.25, 0.5 + 0.02 * 0.25,
                                        0.5 + 0.02 * 0.25], rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_dense_hand_computed(backend: str, dtype: type) -> None:
    w = np.array([[0.5, 0.25, 0.75], [0.5, 0.5, 0.5]], dtype=dtype)
    w0 = w.copy()
    pre = np.array([0, 3, -1])
    post = np.array([2, 0])
    new = K.stdp_dense(w, pre, post, np.array([0]), K.STDPParams(), backend=backend)
    assert new.dtype == dtype
    np.testing.assert_allclose(new, [[0.501, 0.2494375, 0.7494375], [0.5, 0.5, 0.5]], rtol=0,
                               atol=TOL[dtype])
    np.testing.assert_array_equal(w, w0)
    # with a mirror and both neurons winning
    mirror = np.full(w.shape, 0.25, dtype=dtype)
    new, new_m = K.stdp_dense(w, pre, post, np.array([0, 1]), K.STDPParams(mirror_scale=2.0),
                              mirror=mirror, backend=backend)
    # neuron 1 fired at 0: input 0 (t=0) causal, input 1 (t=3) and 2 (never) acausal
    np.testing.assert_allclose(new[1], [0.501, 0.49925, 0.49925], rtol=0, atol=TOL[dtype])
    np.testing.assert_allclose(new_m, 0.25 + 2.0 * (new - w), rtol=0, atol=4 * TOL[dtype])


# --------------------------------------------------------------------------------------------
# random cases against the reference (same arithmetic order -> exact)
# --------------------------------------------------------------------------------------------
def _random_conv_case(rng: np.random.Generator, dtype: type, c_out: int = 3, c_in: int = 2,
                      h: int = 6, k: int = 3, stride: int = 1, padding: int = 1):  # type: ignore[no-untyped-def]
    w = rng.random((c_out, c_in, k, k)).astype(dtype)
    h_out = (h + 2 * padding - k) // stride + 1
    pre = rng.integers(-1, 4, size=(c_in, h, h))
    post = rng.integers(0, 4, size=(c_out, h_out, h_out))
    n = rng.integers(1, 5)
    winners = np.stack([rng.integers(0, c_out, n), rng.integers(0, h_out, n),
                        rng.integers(0, h_out, n)], axis=1)
    return w, pre, post, winners


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (4, 2, 1), (4, 2, 3), (2, 1, 0)])
def test_stdp_conv_matches_reference(backend: str, dtype: type, k: int, stride: int,
                                     padding: int) -> None:
    rng = np.random.default_rng(k * 10 + stride + padding)
    params = K.STDPParams(a_r_plus=0.05, a_r_minus=-0.04, mirror_scale=0.5)
    for _ in range(2):
        w, pre, post, winners = _random_conv_case(rng, dtype, k=k, stride=stride,
                                                  padding=padding)
        mirror = rng.random(w.shape).astype(dtype)
        new = K.stdp_conv(w, pre, post, winners, stride, padding, params, backend=backend)
        np.testing.assert_array_equal(
            new, naive.stdp_conv(w, pre, post, winners, stride, padding, params))
        new, new_m = K.stdp_conv(w, pre, post, winners, stride, padding, params, mirror=mirror,
                                 backend=backend)
        ref_w, ref_m = naive.stdp_conv(w, pre, post, winners, stride, padding, params,
                                       mirror=mirror)
        np.testing.assert_array_equal(new, ref_w)
        np.testing.assert_array_equal(new_m, ref_m)


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp_dense_matches_reference(backend: str, dtype: type) -> None:
    rng = np.random.default_rng(9)
    params = K.STDPParams(a_r_plus=0.1, a_r_minus=-0.2, mirror_scale=2.0)
    w = rng.random((7, 19)).astype(dtype)
    mirror = rng.random(w.shape).astype(dtype)
    pre = rng.integers(-1, 5, size=19)
    post = rng.integers(0, 5, size=7)
    winners = np.array([3, 0, 6])
    new = K.stdp_dense(w, pre, post, winners, params, backend=backend)
    np.testing.assert_array_equal(new, naive.stdp_dense(w, pre, post, winners, params))
    new, new_m = K.stdp_dense(w, pre, post, winners, params, mirror=mirror, backend=backend)
    ref_w, ref_m = naive.stdp_dense(w, pre, post, winners, params, mirror=mirror)
    np.testing.assert_array_equal(new, ref_w)
    np.testing.assert_array_equal(new_m, ref_m)
    untouched = [o for o in range(7) if o not in winners]
    np.testing.assert_array_equal(new[untouched], w[untouched])
    np.testing.assert_array_equal(new_m[untouched], mirror[untouched])


def test_stdp_conv_unchanged_outside_receptive_fields() -> None:
    rng = np.random.default_rng(10)
    for stride, padding, k in [(1, 1, 3), (2, 0, 2), (2, 1, 4)]:
        w, pre, post, winners = _random_conv_case(rng, np.float64, c_out=4, c_in=2, h=8, k=k,
                                                  stride=stride, padding=padding)
        # a winner's receptive field always covers its map's whole kernel: what may change is
        # exactly the maps that won; kernel positions that only ever saw padding change too
        # (padding is acausal), so the untouched set is the other maps.
        new = K.stdp_conv(w, pre, post, winners, stride, padding, K.STDPParams(), backend="cpu")
        won = set(winners[:, 0].tolist())
        for c in range(4):
            if c in won:
                assert (new[c] != w[c]).all()  # 0 < w < 1 and delta != 0: every weight moves
            else:
                np.testing.assert_array_equal(new[c], w[c])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), a_plus=st.floats(0.0, 1.0),
       a_minus=st.floats(-1.0, 0.0), scale=st.floats(0.0, 4.0),
       dtype=st.sampled_from(DTYPES))
def test_stdp_weights_stay_in_unit_interval(seed: int, a_plus: float, a_minus: float,
                                            scale: float, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    params = K.STDPParams(a_r_plus=a_plus, a_r_minus=a_minus, mirror_scale=scale)
    w = rng.random((3, 2, 3, 3)).astype(dtype)
    w[0, 0, 0, 0], w[1, 0, 0, 0] = 0.0, 1.0  # the bounds are fixed points
    w[0, 1, 0, 0] = np.nextafter(dtype(1), dtype(0))
    mirror = rng.random(w.shape).astype(dtype)
    for _ in range(25):
        _, pre, post, winners = _random_conv_case(rng, dtype, c_out=3, c_in=2, h=5, k=3)
        w, mirror = K.stdp_conv(w, pre, post, winners, 1, 1, params, mirror=mirror,
                                backend="cpu")
        assert ((w >= 0) & (w <= 1)).all()
        assert ((mirror >= 0) & (mirror <= 1)).all()
    assert w[0, 0, 0, 0] == 0.0 and w[1, 0, 0, 0] == 1.0
    wd = rng.random((4, 6)).astype(dtype)
    for _ in range(25):
        wd = K.stdp_dense(wd, rng.integers(-1, 4, 6), rng.integers(0, 4, 4),
                          rng.integers(0, 4, 2), params, backend="cpu")
        assert ((wd >= 0) & (wd <= 1)).all()


# --------------------------------------------------------------------------------------------
# Tadros
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_tadros_hand_computed(backend: str, dtype: type) -> None:
    """f(w) = 2 / (1 + exp(w / 0.001)); post neuron 0 spiked, neuron 1 did not.

    - w=0,      input active: 0 + 0.064 * f(0) = 0.064
    - w=0.001,  input silent: 0.001 - 0.069 * 2/(1+e) = -0.03611391614905932
    - w=-0.002, input active: -0.002 + 0.064 * 2/(1+e**-2) = 0.11074202598116893
    - w=-1,     input silent: f = 2 (saturated): -1 - 0.069 * 2 = -1.138
    - w=1,      input active: f = 0 (saturated, exp overflows in float32): stays 1
    """
    w = np.array([[0.0, 0.001, -0.002, -1.0, 1.0],
                  [0.3, -0.3, 0.0, 0.001, 2.0]], dtype=dtype)
    w0 = w.copy()
    pre = np.array([1, 0, 1, 0, 1], dtype=np.uint8)
    post = np.array([1, 0], dtype=np.uint8)
    new = K.tadros_dense(w, pre, post, K.TadrosParams(), backend=backend)
    assert new.dtype == dtype and new.shape == w.shape
    want = [0.064, -0.03611391614905932, 0.11074202598116893, -1.138, 1.0]
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(new[0], want, rtol=rtol, atol=0)
    np.testing.assert_array_equal(new[1], w0[1])
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tadros_matches_reference(backend: str, dtype: type) -> None:
    rng = np.random.default_rng(11)
    w = (rng.normal(size=(9, 13)) * 0.004).astype(dtype)
    pre = (rng.random(13) < 0.5).astype(np.uint8)
    post = (rng.random(9) < 0.6).astype(np.uint8)
    post[0] = 1
    params = K.TadrosParams(inc=0.03, dec=0.05, sigmoid_scale=0.002)
    new = K.tadros_dense(w, pre, post, params, backend=backend)
    ref = naive.tadros_dense(w, pre, post, *params)
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(new, ref, rtol=rtol, atol=5e-8 if dtype == np.float32 else 0)
    quiet = post == 0
    np.testing.assert_array_equal(new[quiet], w[quiet])
    assert (new[~quiet] != w[~quiet]).all()


@pytest.mark.cudasim
def test_device_winners_are_range_checked(cuda_backend: str) -> None:
    """The CUDA kernels do not bounds-check: winners on the device are checked on the host."""
    from numba import cuda

    w = cuda.to_device(np.full((2, 1, 2, 2), 0.5, np.float32))
    pre = cuda.to_device(np.zeros((1, 3, 3), np.int64))
    post = cuda.to_device(np.zeros((2, 2, 2), np.int64))
    bad = cuda.to_device(np.array([[0, 5, 0]]))
    with pytest.raises(ValueError, match="^winners: column 1"):
        K.stdp_conv(w, pre, post, bad, 1, 0, backend=cuda_backend)
    with pytest.raises(ValueError, match="^winners: column 0"):
        K.stdp_dense(cuda.to_device(np.full((2, 3), 0.5, np.float32)),
                     cuda.to_device(np.zeros(3, np.int64)), cuda.to_device(np.zeros(2, np.int64)),
                     cuda.to_device(np.array([2])), backend=cuda_backend)  # fmt: skip
