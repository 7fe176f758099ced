"""The CUDA kernels give the same bits as the CPU kernels (small sizes; simulator without a GPU).

Data here is deliberately non-dyadic (random floats), so any difference in the order or kind of
arithmetic (a different summation order, a fused multiply-add, a float64 intermediate) shows up.
"""

from __future__ import annotations

import numpy as np
import pytest
import spikedefense.kernels as K

pytestmark = pytest.mark.cudasim

DTYPES = [np.float32, np.float64]


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lif(cuda_backend: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    cur = rng.uniform(-0.3, 0.8, size=(6, 45)).astype(dtype)
    v0 = rng.uniform(-0.5, 0.9, size=45).astype(dtype)
    for params in [K.LIFParams(0.9, 1.0, "zero", 0), K.LIFParams(0.83, 0.77, "subtract", 1),
                   K.LIFParams(1.0, 1.1, "subtract", 2)]:
        s_cpu, (v_cpu, _) = K.lif_run(cur, params, v0, backend="cpu")
        s_gpu, (v_gpu, _) = K.lif_run(cur, params, v0, backend=cuda_backend)
        assert isinstance(s_gpu, np.ndarray) and isinstance(v_gpu, np.ndarray)
        _same(s_gpu, s_cpu)
        _same(v_gpu, v_cpu)


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**40 + 3, 2**64 - 1])
def test_bernoulli(cuda_backend: str, seed: int) -> None:
    rng = np.random.default_rng(seed % 97)
    x = rng.uniform(-0.1, 1.1, size=(3, 11)).astype(np.float32)
    for gain in (1.0, 0.37):
        a = K.bernoulli_encode(x, 5, gain=gain, seed=seed, backend="cpu")
        b = K.bernoulli_encode(x, 5, gain=gain, seed=seed, backend=cuda_backend)
        assert isinstance(b, np.ndarray)
        _same(b, a)
        assert 0 < a.sum() < a.size


@pytest.mark.parametrize("dtype", DTYPES)
def test_propagate(cuda_backend: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    s = (rng.random((3, 40)) < 0.4).astype(np.uint8)
    w = rng.normal(size=(9, 40)).astype(dtype)
    _same(K.propagate_dense(s, w, backend=cuda_backend), K.propagate_dense(s, w, backend="cpu"))
    s = (rng.random((2, 3, 6, 6)) < 0.4).astype(np.uint8)
    for k, stride, padding in [(3, 1, 1), (4, 2, 3)]:
        w = rng.normal(size=(2, 3, k, k)).astype(dtype)
        _same(K.propagate_conv2d(s, w, stride=stride, padding=padding, backend=cuda_backend),
              K.propagate_conv2d(s, w, stride=stride, padding=padding, backend="cpu"))
    for k, stride, padding, op in [(3, 1, 1, 0), (4, 2, 1, 1)]:
        w = rng.normal(size=(3, 2, k, k)).astype(dtype)
        kw = dict(stride=stride, padding=padding, output_padding=op)
        _same(K.propagate_conv_transpose2d(s, w, backend=cuda_backend, **kw),
              K.propagate_conv_transpose2d(s, w, backend="cpu", **kw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_fire(cuda_backend: str, dtype: type) -> None:
    """The CUDA composition gives the fused CPU pass's bits, in any weight layout."""
    rng = np.random.default_rng(5)
    s = (rng.random((4, 3, 7, 7)) < 0.4).astype(np.uint8)
    for k, stride, padding in [(3, 1, 1), (4, 2, 3)]:
        w = rng.normal(0.2, 1.0, size=(5, 3, k, k)).astype(dtype)
        b = rng.normal(0.0, 0.3, 5).astype(np.float32)
        want = K.conv_fire(s, w, b, stride, padding, 1.3, backend="cpu")
        assert want[0].any()
        laid_out = K.conv_fire_layout(w, backend="cpu")
        assert K.conv_fire_layout(laid_out, backend=cuda_backend) is laid_out
        for weight in (w, laid_out):
            got = K.conv_fire(s, weight, b, stride, padding, 1.3, backend=cuda_backend)
            for a, c in zip(got, want, strict=True):
                assert isinstance(a, np.ndarray)
                _same(a, c)


def test_kwta(cuda_backend: str) -> None:
    rng = np.random.default_rng(2)
    pot = rng.choice([0.0, 0.25, 1.0], size=(3, 5, 5)).astype(np.float32)
    fs = rng.integers(-1, 3, size=(3, 5, 5))
    for k, radius in [(1, 0), (3, 1), (75, 2)]:
        _same(K.kwta_conv(pot, fs, k, radius, backend=cuda_backend),
              K.kwta_conv(pot, fs, k, radius, backend="cpu"))
    pot = rng.choice([0.0, 0.25, 1.0], size=60)
    fs = rng.integers(-1, 3, size=60)
    for k in (0, 1, 10, 60):
        _same(K.kwta_dense(pot, fs, k, backend=cuda_backend),
              K.kwta_dense(pot, fs, k, backend="cpu"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_stdp(cuda_backend: str, dtype: type) -> None:
    rng = np.random.default_rng(3)
    params = K.STDPParams(a_r_plus=0.0371, a_r_minus=-0.0293, mirror_scale=0.77)
    w = rng.random((3, 2, 3, 3)).astype(dtype)
    mirror = rng.random(w.shape).astype(dtype)
    pre = rng.integers(-1, 4, size=(2, 6, 6))
    post = rng.integers(0, 4, size=(3, 6, 6))
    winners = np.array([[0, 1, 1], [2, 4, 5], [0, 5, 0]])
    a = K.stdp_conv(w, pre, post, winners, 1, 1, params, mirror=mirror, backend="cpu")
    b = K.stdp_conv(w, pre, post, winners, 1, 1, params, mirror=mirror, backend=cuda_backend)
    _same(b[0], a[0])
    _same(b[1], a[1])
    _same(K.stdp_conv(w, pre, post, winners, 1, 1, params, backend=cuda_backend),
          K.stdp_conv(w, pre, post, winners, 1, 1, params, backend="cpu"))
    wd = rng.random((5, 12)).astype(dtype)
    md = rng.random(wd.shape).astype(dtype)
    pre_d = rng.integers(-1, 4, size=12)
    post_d = rng.integers(0, 4, size=5)
    win_d = np.array([4, 1])
    a = K.stdp_dense(wd, pre_d, post_d, win_d, params, mirror=md, backend="cpu")
    b = K.stdp_dense(wd, pre_d, post_d, win_d, params, mirror=md, backend=cuda_backend)
    _same(b[0], a[0])
    _same(b[1], a[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tadros(cuda_backend: str, dtype: type) -> None:
    rng = np.random.default_rng(4)
    w = (rng.normal(size=(6, 10)) * 0.003).astype(dtype)
    pre = (rng.random(10) < 0.5).astype(np.uint8)
    post = (rng.random(6) < 0.7).astype(np.uint8)
    a = K.tadros_dense(w, pre, post, K.TadrosParams(), backend="cpu")
    b = K.tadros_dense(w, pre, post, K.TadrosParams(), backend=cuda_backend)
    assert b.dtype == a.dtype and b.shape == a.shape
    # exp is not correctly rounded in any math library: libm (CPU) and libdevice (GPU) may
    # differ by an ulp, so this one op is compared to a few ulps rather than bit for bit.
    np.testing.assert_array_max_ulp(b, a, maxulp=4)


def test_first_spike(cuda_backend: str) -> None:
    rng = np.random.default_rng(5)
    s = (rng.random((6, 4, 9)) < 0.2).astype(np.uint8)
    _same(K.first_spike(s, backend=cuda_backend), K.first_spike(s, backend="cpu"))


@pytest.mark.parametrize("threads,kwta_threads", [(1, 1), (16, 2), (64, 32)])
def test_results_do_not_depend_on_block_size(cuda_backend: str, monkeypatch: pytest.MonkeyPatch,
                                             threads: int, kwta_threads: int) -> None:
    from spikedefense.kernels import config

    monkeypatch.setattr(config, "THREADS_PER_BLOCK", threads)
    monkeypatch.setattr(config, "KWTA_THREADS", kwta_threads)
    rng = np.random.default_rng(6)
    x = rng.random(37)
    _same(K.bernoulli_encode(x, 3, seed=5, backend=cuda_backend),
          K.bernoulli_encode(x, 3, seed=5, backend="cpu"))
    cur = rng.uniform(-0.2, 0.7, size=(4, 29)).astype(np.float32)
    params = K.LIFParams(0.9, 0.8, "subtract", 1)
    _same(K.lif_run(cur, params, backend=cuda_backend)[1].v,
          K.lif_run(cur, params, backend="cpu")[1].v)
    pot = rng.choice([0.0, 1.0], size=(3, 4, 4))
    fs = rng.integers(-1, 2, size=(3, 4, 4))
    _same(K.kwta_conv(pot, fs, 3, 1, backend=cuda_backend), K.kwta_conv(pot, fs, 3, 1,
                                                                        backend="cpu"))
    _same(K.kwta_dense(pot.ravel(), fs.ravel(), 9, backend=cuda_backend),
          K.kwta_dense(pot.ravel(), fs.ravel(), 9, backend="cpu"))


def test_device_input_runs_on_cuda_and_stays_there(cuda_backend: str) -> None:
    """"auto" follows the data: a device array in gives a device array out."""
    from numba import cuda

    rng = np.random.default_rng(7)
    cur = rng.uniform(-0.2, 0.7, size=(4, 10)).astype(np.float32)
    d_cur = cuda.to_device(cur)
    spikes, (v, left) = K.lif_run(d_cur, K.LIFParams(0.9), backend="auto")
    assert hasattr(spikes, "copy_to_host") and hasattr(v, "copy_to_host")
    assert hasattr(left, "copy_to_host")
    s_cpu, (v_cpu, _) = K.lif_run(cur, K.LIFParams(0.9), backend="cpu")
    _same(spikes.copy_to_host(), s_cpu)
    _same(v.copy_to_host(), v_cpu)
    np.testing.assert_array_equal(d_cur.copy_to_host(), cur)
    # nothing falls back silently: a device array with backend="cpu" is refused
    with pytest.raises(ValueError, match=r"^backend:"):
        K.lif_run(d_cur, K.LIFParams(0.9), backend="cpu")


def test_any_host_layout_gives_the_cpu_bits(cuda_backend: str) -> None:
    """Fortran-ordered and permuted host arrays: the CUDA kernels view some inputs flat, so they
    must see C-ordered copies (on a GPU a Fortran-ordered device copy reshapes wrongly; the
    simulator reshapes by copying, so the layout itself is checked first)."""
    from spikedefense.kernels.cuda._device import device_copy

    rng = np.random.default_rng(8)
    assert device_copy(np.asfortranarray(rng.random((3, 4)))).is_c_contiguous()
    cur = np.asfortranarray(rng.uniform(-0.3, 0.8, size=(5, 6)).astype(np.float32))
    params = K.LIFParams(0.9, 0.7, "subtract", 0)
    gpu, cpu = (K.lif_run(cur, params, cur[0], backend=b) for b in (cuda_backend, "cpu"))
    for a, b in zip((gpu[0], *gpu[1]), (cpu[0], *cpu[1]), strict=True):
        _same(a, b)
    x = np.asfortranarray(rng.random((4, 7)))
    _same(K.bernoulli_encode(x, 3, seed=2, backend=cuda_backend),
          K.bernoulli_encode(x, 3, seed=2, backend="cpu"))  # fmt: skip
    s = np.asfortranarray((rng.random((6, 4, 9)) < 0.2).astype(np.uint8))
    _same(K.first_spike(s, backend=cuda_backend), K.first_spike(s, backend="cpu"))
    pot = np.asfortranarray(rng.random((3, 4, 5)))
    fs = rng.integers(-1, 3, size=(3, 4, 5))  # C order, unlike pot
    _same(K.kwta_conv(pot, fs, 4, 1, backend=cuda_backend), K.kwta_conv(pot, fs, 4, 1,
                                                                        backend="cpu"))
    # STDP on a permuted view (neither C nor Fortran order) and a Fortran-ordered dense weight.
    w = rng.uniform(0.1, 0.9, size=(3, 2, 3, 3)).transpose(1, 0, 2, 3)
    pre = rng.integers(-1, 4, size=(3, 5, 5))
    post = rng.integers(0, 4, size=(2, 3, 3))
    winners = np.array([[1, 2, 0], [0, 1, 1]])
    _same(K.stdp_conv(w, pre, post, winners, 1, 0, mirror=w, backend=cuda_backend)[0],
          K.stdp_conv(w, pre, post, winners, 1, 0, mirror=w, backend="cpu")[0])  # fmt: skip
    wd = np.asfortranarray(rng.uniform(0.1, 0.9, size=(6, 4)))
    pre_d, post_d = rng.integers(-1, 3, size=4), rng.integers(0, 3, size=6)
    for a, b in zip(K.stdp_dense(wd, pre_d, post_d, np.array([1, 4]), mirror=wd,
                                 backend=cuda_backend),
                    K.stdp_dense(wd, pre_d, post_d, np.array([1, 4]), mirror=wd, backend="cpu"),
                    strict=True):  # fmt: skip
        _same(a, b)


def test_device_arrays_must_be_c_ordered(cuda_backend: str) -> None:
    """A Fortran-ordered device array is refused by name instead of read in the wrong order."""
    from numba import cuda

    rng = np.random.default_rng(9)
    d_cur = cuda.to_device(np.asfortranarray(rng.random((4, 5)).astype(np.float32)))
    with pytest.raises(ValueError, match=r"^currents: device arrays must be C-contiguous"):
        K.lif_run(d_cur, K.LIFParams(0.9), backend=cuda_backend)
    d_pot = cuda.to_device(np.asfortranarray(rng.random((2, 3, 4))))
    with pytest.raises(ValueError, match=r"^potentials: device arrays must be C-contiguous"):
        K.kwta_conv(d_pot, np.zeros((2, 3, 4), np.int64), 1, 0, backend=cuda_backend)
    d_w = cuda.to_device(np.asfortranarray(rng.uniform(0.1, 0.9, size=(6, 4))))
    with pytest.raises(ValueError, match=r"^weight: device arrays must be C-contiguous"):
        K.stdp_dense(d_w, np.zeros(4, np.int64), np.zeros(6, np.int64), np.array([1]),
                     backend=cuda_backend)  # fmt: skip
    with pytest.raises(ValueError, match=r"^weight: device arrays must be C-contiguous"):
        K.tadros_dense(d_w, np.zeros(4, np.uint8), np.zeros(6, np.uint8), backend=cuda_backend)
    with pytest.raises(TypeError, match=r"^spikes: device spike arrays must be uint8"):
        K.first_spike(cuda.to_device(np.zeros((3, 4), bool)), backend=cuda_backend)


@pytest.mark.parametrize("setting", ["THREADS_PER_BLOCK", "KWTA_THREADS"])
def test_block_sizes_above_the_hardware_limit_are_refused(
    cuda_backend: str, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    from spikedefense.kernels import config

    monkeypatch.setattr(config, setting, 2048)
    with pytest.raises(ValueError, match=rf"^config.{setting}: expected 1 to 1024"):
        if setting == "KWTA_THREADS":
            K.kwta_conv(np.zeros((2, 3, 3)), np.zeros((2, 3, 3), np.int64), 1, 0,
                        backend=cuda_backend)  # fmt: skip
        else:
            K.bernoulli_encode(np.full(4, 0.5), 2, seed=0, backend=cuda_backend)


def test_foreign_cuda_arrays_get_a_clear_error_without_a_gpu(cuda_backend: str) -> None:
    """torch / CuPy CUDA arrays cross by ``__cuda_array_interface__``; the simulator cannot map
    them, and says so by argument instead of failing on their dtype."""
    from numba import config as numba_config

    if not numba_config.ENABLE_CUDASIM:
        pytest.skip("a real GPU maps __cuda_array_interface__ memory")

    class ForeignCudaArray:
        dtype = "torch.float32"  # not a NumPy dtype, as with torch tensors
        __cuda_array_interface__ = {"shape": (3, 2), "typestr": "<f4", "data": (0, False),
                                    "version": 3}  # fmt: skip

    with pytest.raises(TypeError, match=r"^currents: a ForeignCudaArray on a CUDA device needs"):
        K.lif_run(ForeignCudaArray(), K.LIFParams(0.9))
