"""Event-driven propagation vs the references and torch's linear, conv2d, conv_transpose2d."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K

DTYPES = [np.float32, np.float64]


def _spikes(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    return (rng.random(shape) < rate).astype(np.uint8)


def _dyadic(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Weights that are multiples of 2**-8 in [-1, 1]: every sum here is exact in float32."""
    return (rng.integers(-256, 257, size=shape) / 256.0).astype(dtype)


# --------------------------------------------------------------------------------------------
# the references themselves agree with torch (so they can be trusted below)
# --------------------------------------------------------------------------------------------
def test_references_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    s = _spikes(rng, (2, 5), 0.5)
    w = rng.normal(size=(3, 5))
    np.testing.assert_allclose(naive.propagate_dense(s, w),
                               F.linear(torch.from_numpy(s).double(), torch.from_numpy(w)).numpy(),
                               rtol=1e-12, atol=1e-12)
    for stride, padding in [(1, 0), (2, 1), (2, 3), (3, 2)]:
        s = _spikes(rng, (2, 2, 7, 6), 0.5)
        w = rng.normal(size=(3, 2, 3, 3))
        ref = naive.propagate_conv2d(s, w, stride, padding)
        exp = F.conv2d(torch.from_numpy(s).double(), torch.from_numpy(w), stride=stride,
                       padding=padding).numpy()
        np.testing.assert_allclose(ref, exp, rtol=1e-12, atol=1e-12)
        for output_padding in range(stride):
            wt = rng.normal(size=(2, 3, 3, 3))
            ref = naive.propagate_conv_transpose2d(s, wt, stride, padding, output_padding)
            exp = F.conv_transpose2d(torch.from_numpy(s).double(), torch.from_numpy(wt),
                                     stride=stride, padding=padding,
                                     output_padding=output_padding).numpy()
            np.testing.assert_allclose(ref, exp, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# kernels vs references (both backends, small sizes). The kernels document that every output
# sums its contributions in ascending input order, as the references do: results are exact.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_matches_reference(backend: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    s = _spikes(rng, (4, 37), 0.3)
    w = rng.normal(size=(11, 37)).astype(dtype)
    s0, w0 = s.copy(), w.copy()
    out = K.propagate_dense(s, w, backend=backend)
    assert out.dtype == dtype and out.shape == (4, 11)
    np.testing.assert_array_equal(out, naive.propagate_dense(s, w))
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("steps,rate,n_out", [(1, 0.05, 70), (30, 0.3, 70), (6, 0.5, 130)])
def test_dense_any_weight_layout_gives_the_reference_bits(backend: str, dtype: type, steps: int,
                                                          rate: float, n_out: int) -> None:
    """C-ordered (nn.Linear's layout: the gather or the tiled kernel, by the number of events),
    Fortran-ordered and strided weights: all exactly the reference."""
    rng = np.random.default_rng(steps)
    s = _spikes(rng, (steps, 53), rate)
    w = rng.normal(size=(n_out, 53)).astype(dtype)
    want = naive.propagate_dense(s, w)
    for layout in (w, np.asfortranarray(w), np.repeat(w, 2, axis=1)[:, ::2]):
        np.testing.assert_array_equal(K.propagate_dense(s, layout, backend=backend), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,stride,padding", [(3, 1, 0), (3, 1, 1), (4, 2, 1), (4, 2, 3),
                                              (2, 3, 0)])
def test_conv2d_matches_reference(backend: str, dtype: type, k: int, stride: int,
                                  padding: int) -> None:
    rng = np.random.default_rng(2)
    s = _spikes(rng, (3, 2, 7, 6), 0.4)
    w = rng.normal(size=(3, 2, k, k)).astype(dtype)
    s0, w0 = s.copy(), w.copy()
    out = K.propagate_conv2d(s, w, stride=stride, padding=padding, backend=backend)
    ref = naive.propagate_conv2d(s, w, stride, padding)
    assert out.dtype == dtype and out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,stride,padding,output_padding",
                         [(3, 1, 0, 0), (3, 1, 1, 0), (4, 2, 1, 0), (4, 2, 1, 1), (4, 2, 3, 1),
                          (2, 3, 0, 2)])
def test_conv_transpose2d_matches_reference(backend: str, dtype: type, k: int, stride: int,
                                            padding: int, output_padding: int) -> None:
    rng = np.random.default_rng(3)
    s = _spikes(rng, (2, 3, 4, 5), 0.4)
    w = rng.normal(size=(3, 2, k, k)).astype(dtype)
    s0, w0 = s.copy(), w.copy()
    out = K.propagate_conv_transpose2d(s, w, stride=stride, padding=padding,
                                       output_padding=output_padding, backend=backend)
    ref = naive.propagate_conv_transpose2d(s, w, stride, padding, output_padding)
    assert out.dtype == dtype and out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(w, w0)


def test_bool_spikes_accepted(backend: str) -> None:
    rng = np.random.default_rng(4)
    s = rng.random((2, 2, 5, 5)) < 0.5
    w = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
    out = K.propagate_conv2d(s, w, padding=1, backend=backend)
    np.testing.assert_array_equal(out, naive.propagate_conv2d(s.astype(np.uint8), w, 1, 1))
    s2 = rng.random((3, 6)) < 0.5
    w2 = rng.normal(size=(4, 6))
    np.testing.assert_array_equal(K.propagate_dense(s2, w2, backend=backend),
                                  naive.propagate_dense(s2.astype(np.uint8), w2))


def test_no_spikes_gives_zero_and_all_spikes_gives_weight_sums(backend: str) -> None:
    w = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
    out = K.propagate_dense(np.zeros((2, 4), np.uint8), w, backend=backend)
    assert out.shape == (2, 3) and not out.any()
    out = K.propagate_dense(np.ones((1, 4), np.uint8), w, backend=backend)
    np.testing.assert_array_equal(out[0], w.sum(axis=1))
    # a single spike at (0, 1, 1) through a 3x3 kernel, padding 1: output (oy, ox) receives
    # w[2 - oy, 2 - ox] (the flipped kernel) around that position
    s = np.zeros((1, 1, 3, 3), np.uint8)
    s[0, 0, 1, 1] = 1
    wk = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    out = K.propagate_conv2d(s, wk, padding=1, backend=backend)
    np.testing.assert_array_equal(out[0, 0], wk[0, 0, ::-1, ::-1])
    # and the transposed conv places the kernel itself
    out = K.propagate_conv_transpose2d(s, wk, padding=1, backend=backend)
    np.testing.assert_array_equal(out[0, 0], wk[0, 0])


# --------------------------------------------------------------------------------------------
# the seed's geometries vs torch (CPU)
# --------------------------------------------------------------------------------------------
ENCODER = [  # (C_in, C_out, k, stride, padding, H)
    pytest.param(1, 64, 5, 1, 2, 28, id="S1"),
    pytest.param(64, 64, 4, 2, 3, 28, id="S2"),
    pytest.param(64, 128, 4, 2, 1, 16, id="S3"),
    pytest.param(128, 256, 4, 2, 1, 8, id="S4"),
]
DECODER = [  # (C_in, C_out, k, stride, padding, H_in, H_out)
    pytest.param(256, 128, 4, 2, 1, 4, 8, id="D4"),
    pytest.param(128, 64, 4, 2, 1, 8, 16, id="D3"),
    pytest.param(64, 64, 4, 2, 3, 16, 28, id="D2"),
    pytest.param(64, 1, 5, 1, 2, 28, 28, id="D1"),
]


@pytest.mark.parametrize("rate", [0.05, 0.5])
@pytest.mark.parametrize("c_in,c_out,k,stride,padding,h", ENCODER)
def test_conv2d_seed_geometry_vs_torch(c_in: int, c_out: int, k: int, stride: int, padding: int,
                                       h: int, rate: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(c_in + c_out + k)
    s = _spikes(rng, (2, c_in, h, h), rate)
    w = _dyadic(rng, (c_out, c_in, k, k), np.float32)
    out = K.propagate_conv2d(s, w, stride=stride, padding=padding, backend="cpu")
    exp = torch.nn.functional.conv2d(torch.from_numpy(s).float(), torch.from_numpy(w),
                                     stride=stride, padding=padding).numpy()
    assert out.shape == exp.shape == (2, c_out, (h + 2 * padding - k) // stride + 1,
                                      (h + 2 * padding - k) // stride + 1)
    np.testing.assert_array_equal(out, exp)  # dyadic weights: every sum is exact
    # non-dyadic float64 weights: equal up to summation order
    w64 = rng.normal(size=w.shape)
    out = K.propagate_conv2d(s, w64, stride=stride, padding=padding, backend="cpu")
    exp = torch.nn.functional.conv2d(torch.from_numpy(s).double(), torch.from_numpy(w64),
                                     stride=stride, padding=padding).numpy()
    np.testing.assert_allclose(out, exp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rate", [0.05, 0.5])
@pytest.mark.parametrize("c_in,c_out,k,stride,padding,h_in,h_out", DECODER)
def test_conv_transpose2d_seed_geometry_vs_torch(c_in: int, c_out: int, k: int, stride: int,
                                                 padding: int, h_in: int, h_out: int,
                                                 rate: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(c_in + c_out + k + 1)
    s = _spikes(rng, (2, c_in, h_in, h_in), rate)
    w = _dyadic(rng, (c_in, c_out, k, k), np.float32)
    out = K.propagate_conv_transpose2d(s, w, stride=stride, padding=padding, backend="cpu")
    exp = torch.nn.functional.conv_transpose2d(torch.from_numpy(s).float(), torch.from_numpy(w),
                                               stride=stride, padding=padding).numpy()
    assert out.shape == exp.shape == (2, c_out, h_out, h_out)
    np.testing.assert_array_equal(out, exp)
    w64 = rng.normal(size=w.shape)
    out = K.propagate_conv_transpose2d(s, w64, stride=stride, padding=padding, backend="cpu")
    exp = torch.nn.functional.conv_transpose2d(torch.from_numpy(s).double(),
                                               torch.from_numpy(w64), stride=stride,
                                               padding=padding).numpy()
    np.testing.assert_allclose(out, exp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rate", [0.02, 0.5])
def test_dense_4096_vs_torch(rate: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    s = _spikes(rng, (3, 4096), rate)
    w = _dyadic(rng, (200, 4096), np.float32)
    out = K.propagate_dense(s, w, backend="cpu")
    exp = torch.nn.functional.linear(torch.from_numpy(s).float(), torch.from_numpy(w)).numpy()
    np.testing.assert_array_equal(out, exp)
    # a weight stored presynaptic-major (a transposed view) gives the same result
    w_f = np.asfortranarray(w)
    np.testing.assert_array_equal(K.propagate_dense(s, w_f, backend="cpu"), exp)
    w64 = rng.normal(size=w.shape)
    out = K.propagate_dense(s, w64, backend="cpu")
    exp = torch.nn.functional.linear(torch.from_numpy(s).double(), torch.from_numpy(w64)).numpy()
    np.testing.assert_allclose(out, exp, rtol=1e-10, atol=1e-9)


def test_output_padding_vs_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    s = _spikes(rng, (2, 4, 5, 5), 0.5)
    w = _dyadic(rng, (4, 3, 3, 3), np.float32)
    for stride, padding, op in [(2, 1, 1), (3, 0, 2), (3, 1, 1)]:
        out = K.propagate_conv_transpose2d(s, w, stride=stride, padding=padding,
                                           output_padding=op, backend="cpu")
        exp = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(s).float(), torch.from_numpy(w), stride=stride, padding=padding,
            output_padding=op).numpy()
        np.testing.assert_array_equal(out, exp)
