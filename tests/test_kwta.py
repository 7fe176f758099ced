"""k-WTA: properties (hypothesis), the reference, and hand-made tie-breaks."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    c = draw(st.integers(1, 4))
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # few distinct values so that ties on first spike and on potential are common
    pot = draw(hnp.arrays(dtype, (c, h, w), elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])))
    fs_dtype = draw(st.sampled_from([np.int64, np.int32]))
    fs = draw(hnp.arrays(fs_dtype, (c, h, w), elements=st.integers(-1, 3)))
    k = draw(st.integers(0, c * h * w))
    radius = draw(st.integers(0, 3))
    return pot, fs, k, radius


def check_conv_properties(win: np.ndarray, pot: np.ndarray, fs: np.ndarray, k: int,
                          radius: int) -> None:
    """What any correct k-WTA result satisfies, checked without the reference."""
    c_n, h, w = pot.shape
    assert win.dtype == np.int64 and win.ndim == 2 and win.shape[1] == 3
    assert len(win) <= k
    maps = [int(c) for c, _, _ in win]
    assert len(set(maps)) == len(maps), "at most one winner per map"
    for c, y, x in win:
        assert 0 <= c < c_n and 0 <= y < h and 0 <= x < w
        assert fs[c, y, x] >= 0, "winners only among neurons that fired"
    for j in range(len(win)):
        for i in range(j):
            dy = abs(int(win[j, 1]) - int(win[i, 1]))
            dx = abs(int(win[j, 2]) - int(win[i, 2]))
            assert not (dy <= radius and dx <= radius), "later winner inside an earlier window"

    def inhibited(c: int, y: int, x: int, upto: int) -> bool:
        return any(int(win[i, 0]) == c or (abs(y - int(win[i, 1])) <= radius
                                           and abs(x - int(win[i, 2])) <= radius)
                   for i in range(upto))

    def key(c: int, y: int, x: int) -> tuple[int, float, int]:
        return (int(fs[c, y, x]), -float(pot[c, y, x]), (c * h + y) * w + x)

    # greedy: each winner is the best candidate not inhibited by the winners before it
    for j, (c, y, x) in enumerate(win):
        for cc in range(c_n):
            for yy in range(h):
                for xx in range(w):
                    if fs[cc, yy, xx] >= 0 and not inhibited(cc, yy, xx, j):
                        assert key(int(c), int(y), int(x)) <= key(cc, yy, xx)
    # stops early only when nobody is left
    if len(win) < k:
        for cc, yy, xx in zip(*np.nonzero(fs >= 0), strict=True):
            assert inhibited(int(cc), int(yy), int(xx), len(win))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases())
def test_kwta_conv_properties_cpu(case: tuple[np.ndarray, np.ndarray, int, int]) -> None:
    pot, fs, k, radius = case
    pot0, fs0 = pot.copy(), fs.copy()
    win = K.kwta_conv(pot, fs, k, radius, backend="cpu")
    check_conv_properties(win, pot, fs, k, radius)
    np.testing.assert_array_equal(win, naive.kwta_conv(pot, fs, k, radius))
    np.testing.assert_array_equal(K.kwta_conv(pot, fs, k, radius, backend="cpu"), win)
    np.testing.assert_array_equal(pot, pot0)
    np.testing.assert_array_equal(fs, fs0)


@pytest.mark.cudasim
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kwta_conv_cuda_examples(cuda_backend: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, h, w = 4, 5, 6
    pot = rng.choice([0.0, 0.5, 1.0, 2.0], size=(c, h, w)).astype(np.float32)
    fs = rng.integers(-1, 3, size=(c, h, w))
    for k, radius in [(3, 1), (4, 0), (c * h * w, 2)]:
        win = K.kwta_conv(pot, fs, k, radius, backend=cuda_backend)
        check_conv_properties(win, pot, fs, k, radius)
        np.testing.assert_array_equal(win, naive.kwta_conv(pot, fs, k, radius))
        np.testing.assert_array_equal(win, K.kwta_conv(pot, fs, k, radius, backend="cpu"))


def test_kwta_conv_large_cpu() -> None:
    """The seed's S1 map size with many candidates."""
    rng = np.random.default_rng(7)
    pot = rng.normal(size=(64, 28, 28)).astype(np.float32)
    fs = rng.integers(-1, 15, size=pot.shape)
    win = K.kwta_conv(pot, fs, 5, 2, backend="cpu")
    assert len(win) == 5
    check_conv_properties(win, pot, fs, 5, 2)
    np.testing.assert_array_equal(win, naive.kwta_conv(pot, fs, 5, 2))


def test_kwta_conv_tie_breaks(backend: str) -> None:
    # same first spike: the higher potential wins
    pot = np.array([[[0.1, 0.5, 0.3]]], dtype=np.float32)
    fs = np.zeros((1, 1, 3), dtype=np.int64)
    assert K.kwta_conv(pot, fs, 1, 0, backend=backend).tolist() == [[0, 0, 1]]
    # an earlier first spike beats a higher potential
    fs = np.array([[[1, 1, 0]]])
    assert K.kwta_conv(pot, fs, 1, 0, backend=backend).tolist() == [[0, 0, 2]]
    # never fired (-1) is never chosen, however high its potential
    pot = np.array([[[9.0, 1.0]], [[0.0, 0.0]]])
    fs = np.array([[[-1, 2]], [[-1, -1]]])
    assert K.kwta_conv(pot, fs, 2, 0, backend=backend).tolist() == [[0, 0, 1]]
    # full tie: lowest flat index first; the second winner must avoid map 0 and position (0, 0)
    pot = np.ones((2, 2, 2), dtype=np.float64)
    fs = np.zeros((2, 2, 2), dtype=np.int64)
    assert K.kwta_conv(pot, fs, 2, 0, backend=backend).tolist() == [[0, 0, 0], [1, 0, 1]]
    # negative potentials order too: -0.5 beats -1
    pot = np.array([[[-1.0, -0.5]]], dtype=np.float32)
    fs = np.zeros((1, 1, 2), dtype=np.int64)
    assert K.kwta_conv(pot, fs, 1, 0, backend=backend).tolist() == [[0, 0, 1]]


def test_kwta_conv_inhibition_window(backend: str) -> None:
    pot = np.array([
        [[0, 0, 9, 0, 0]],
        [[0, 0, 0, 8, 1]],
        [[7, 0, 0, 0, 0]],
    ], dtype=np.float32)
    fs = np.zeros(pot.shape, dtype=np.int64)
    # (0,0,2) wins and blocks map 0 and x in [1, 3]; (1,0,3) is blocked; (2,0,0) wins and blocks
    # map 2 and x in [0, 1]; (1,0,4), potential 1, is the only one left.
    want = [[0, 0, 2], [2, 0, 0], [1, 0, 4]]
    assert K.kwta_conv(pot, fs, 3, 1, backend=backend).tolist() == want
    assert K.kwta_conv(pot, fs, 2, 1, backend=backend).tolist() == want[:2]
    # k larger than what can win: stops at 3
    assert K.kwta_conv(pot, fs, 15, 1, backend=backend).tolist() == want
    # radius 0: (1,0,3) is no longer blocked
    assert K.kwta_conv(pot, fs, 3, 0, backend=backend).tolist() == [[0, 0, 2], [1, 0, 3],
                                                                    [2, 0, 0]]
    # radius 4 covers the whole row: one winner only
    assert K.kwta_conv(pot, fs, 3, 4, backend=backend).tolist() == [[0, 0, 2]]
    # 2-D window: a diagonal neighbour is blocked at radius 1
    pot = np.zeros((2, 3, 3), dtype=np.float32)
    pot[0, 1, 1] = 5.0
    pot[1, 2, 2] = 4.0
    pot[1, 0, 0] = 3.0
    fs = np.zeros(pot.shape, dtype=np.int64)
    fs[1, 0, 0] = 1  # fires later: loses to every step-0 neuron outside the window
    out = K.kwta_conv(pot, fs, 2, 1, backend=backend)
    assert out.tolist()[0] == [0, 1, 1]
    # every (y, x) of the 3x3 map is within radius 1 of (1, 1): nobody else can win
    assert len(out) == 1


def test_kwta_conv_k_zero_and_no_candidates(backend: str) -> None:
    pot = np.ones((2, 3, 3), dtype=np.float32)
    fs = np.zeros((2, 3, 3), dtype=np.int64)
    out = K.kwta_conv(pot, fs, 0, 1, backend=backend)
    assert out.shape == (0, 3) and out.dtype == np.int64
    out = K.kwta_conv(pot, np.full((2, 3, 3), -1), 4, 1, backend=backend)
    assert out.shape == (0, 3) and out.dtype == np.int64


# --------------------------------------------------------------------------------------------
# dense
# --------------------------------------------------------------------------------------------
@st.composite
def dense_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    pot = draw(hnp.arrays(dtype, (n,), elements=st.sampled_from([-2.0, 0.0, 0.25, 1.0, 3.0])))
    fs = draw(hnp.arrays(np.int64, (n,), elements=st.integers(-1, 4)))
    k = draw(st.integers(0, n))
    return pot, fs, k


@settings(max_examples=150, deadline=None)
@given(dense_cases())
def test_kwta_dense_properties_cpu(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    pot, fs, k = case
    win = K.kwta_dense(pot, fs, k, backend="cpu")
    assert win.dtype == np.int64 and win.ndim == 1
    fired = int((fs >= 0).sum())
    assert len(win) == min(k, fired)
    assert len(set(win.tolist())) == len(win)
    assert (fs[win] >= 0).all()
    keys = [(int(fs[i]), -float(pot[i]), int(i)) for i in win]
    assert keys == sorted(keys)
    # nobody left out is better than the last winner
    if len(win):
        worst = keys[-1]
        for i in np.nonzero(fs >= 0)[0]:
            if i not in win:
                assert (int(fs[i]), -float(pot[i]), int(i)) > worst
    np.testing.assert_array_equal(win, naive.kwta_dense(pot, fs, k))
    np.testing.assert_array_equal(K.kwta_dense(pot, fs, k, backend="cpu"), win)


def test_kwta_dense_hand(backend: str) -> None:
    pot = np.array([9.0, 1.0, 3.0, 100.0, 5.0, 3.0], dtype=np.float32)
    fs = np.array([2, 0, 0, -1, 1, 0])
    # step 0: 2 and 5 tie on potential 3 -> lower index first, then 1; step 1: 4; step 2: 0
    assert K.kwta_dense(pot, fs, 5, backend=backend).tolist() == [2, 5, 1, 4, 0]
    assert K.kwta_dense(pot, fs, 6, backend=backend).tolist() == [2, 5, 1, 4, 0]
    assert K.kwta_dense(pot, fs, 2, backend=backend).tolist() == [2, 5]
    out = K.kwta_dense(pot, fs, 0, backend=backend)
    assert out.shape == (0,) and out.dtype == np.int64


@pytest.mark.cudasim
def test_kwta_dense_cuda_examples(cuda_backend: str) -> None:
    rng = np.random.default_rng(3)
    for n in (5, 37, 100):
        pot = rng.choice([0.0, 1.0, 2.0], size=n)
        fs = rng.integers(-1, 3, size=n)
        for k in (1, min(7, n), n):
            win = K.kwta_dense(pot, fs, k, backend=cuda_backend)
            np.testing.assert_array_equal(win, naive.kwta_dense(pot, fs, k))


# --------------------------------------------------------------------------------------------
# batched dense top-k
# --------------------------------------------------------------------------------------------
@st.composite
def topk_cases(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    b = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # few distinct values (negative zero among them) so that ties are common
    values = draw(hnp.arrays(dtype, (b, n), elements=st.sampled_from(
        [-3.0, -1.5, -0.0, 0.0, 0.25, 1.0, 2.0, 1e30])))
    return values, draw(st.integers(1, n))


def check_topk_properties(win: np.ndarray, values: np.ndarray, k: int) -> None:
    assert win.dtype == np.int64 and win.shape == (values.shape[0], k)
    for row, chosen in zip(values, win, strict=True):
        keys = [(-float(row[i]), int(i)) for i in chosen]
        assert keys == sorted(keys) and len(set(chosen.tolist())) == k
        left_out = set(range(row.shape[0])) - set(chosen.tolist())
        assert all((-float(row[i]), i) > keys[-1] for i in left_out)


@settings(max_examples=150, deadline=None)
@given(topk_cases())
def test_kwta_topk_properties_cpu(case: tuple[np.ndarray, int]) -> None:
    values, k = case
    before = values.copy()
    win = K.kwta_topk(values, k, backend="cpu")
    check_topk_properties(win, values, k)
    np.testing.assert_array_equal(win, naive.kwta_topk(values, k))
    np.testing.assert_array_equal(values, before)


@pytest.mark.parametrize("shape,k,seed", [((100, 2000), 100, 0), ((256, 500), 50, 1),
                                          ((3, 784), 7, 2), ((1, 5000), 250, 3)])
def test_kwta_topk_large_cpu(shape: tuple[int, int], k: int, seed: int) -> None:
    """The sizes it is used at, in parallel and serial; integer-valued floats give many ties."""
    rng = np.random.default_rng(seed)
    values = rng.integers(-40, 40, size=shape).astype(np.float32)
    np.testing.assert_array_equal(K.kwta_topk(values, k, backend="cpu"),
                                  naive.kwta_topk(values, k))
    noise = rng.normal(size=shape)
    np.testing.assert_array_equal(K.kwta_topk(noise, k, backend="cpu"), naive.kwta_topk(noise, k))


def test_kwta_topk_hand(backend: str) -> None:
    values = np.array([[0.5, 2.0, 0.5, 1.0, -1.0],
                       [1.0, 1.0, 1.0, 1.0, 1.0],
                       [-2.0, -1.0, -0.0, 0.0, -3.0]], dtype=np.float32)
    assert K.kwta_topk(values, 1, backend=backend).tolist() == [[1], [0], [2]]
    assert K.kwta_topk(values, 3, backend=backend).tolist() == [[1, 3, 0], [0, 1, 2],
                                                                [2, 3, 1]]
    assert K.kwta_topk(values, 5, backend=backend).tolist() == [[1, 3, 0, 2, 4],
                                                                [0, 1, 2, 3, 4],
                                                                [2, 3, 1, 0, 4]]


@pytest.mark.cudasim
def test_kwta_topk_cuda_examples(cuda_backend: str) -> None:
    rng = np.random.default_rng(4)
    for b, n, dtype in [(3, 13, np.float32), (2, 20, np.float64), (1, 1, np.float32)]:
        values = rng.choice([-1.0, 0.0, 0.5, 2.0], size=(b, n)).astype(dtype)
        for k in sorted({1, min(5, n), n}):
            win = K.kwta_topk(values, k, backend=cuda_backend)
            assert isinstance(win, np.ndarray)
            np.testing.assert_array_equal(win, naive.kwta_topk(values, k))


@pytest.mark.parametrize("values,k,exc,name", [
    (np.ones((2, 4), np.float32), 0, ValueError, "k"),
    (np.ones((2, 4), np.float32), 5, ValueError, "k"),
    (np.ones((2, 4), np.float32), 2.0, TypeError, "k"),
    (np.array([[1.0, np.nan]]), 1, ValueError, "values"),
    (np.array([[1.0, -np.inf]], np.float32), 1, ValueError, "values"),
    (np.ones((2, 4), np.int64), 1, TypeError, "values"),
    (np.ones(4, np.float32), 1, ValueError, "values"),
    (np.ones((2, 2, 2), np.float32), 1, ValueError, "values"),
    (np.ones((0, 4), np.float32), 1, ValueError, "values"),
])
def test_kwta_topk_bad_input(values: np.ndarray, k: object, exc: type, name: str) -> None:
    before = values.copy()
    with pytest.raises(exc, match=rf"^{name}:"):
        K.kwta_topk(values, k, backend="cpu")  # type: ignore[arg-type]
    np.testing.assert_array_equal(values, before)
