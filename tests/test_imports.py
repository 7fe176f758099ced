"""Importing the kernels loads no torch; backends resolve as documented."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
import spikedefense.kernels as K
from spikedefense.kernels import dispatch


def _run(code: str) -> subprocess.CompletedProcess[str]:
    # Run outside the repository so the installed package is imported, not the source folder.
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=tempfile.gettempdir())


def test_import_and_cpu_run_load_no_torch() -> None:
    proc = _run("""
        import sys
        import numpy as np
        import spikedefense.kernels as K
        assert 'torch' not in sys.modules, 'import loaded torch'
        s, (v, _) = K.lif_run(np.full((3, 2), 0.6, np.float32), K.LIFParams(), backend="cpu")
        assert s[:, 0].tolist() == [0, 1, 0], s
        x = K.bernoulli_encode(np.full(4, 0.5), 2, backend="cpu")
        K.propagate_dense(x.reshape(2, 4), np.ones((3, 4), np.float32), backend="cpu")
        assert 'torch' not in sys.modules, 'running a CPU kernel loaded torch'
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_import_is_lazy() -> None:
    """Importing the package loads neither numba nor torch (kernels compile on first use)."""
    proc = _run("""
        import sys
        import spikedefense.kernels as K
        print(sorted(m for m in ("torch", "numba", "numba.cuda") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_public_api() -> None:
    for name in ["lif_run", "bernoulli_encode", "propagate_dense", "propagate_conv2d",
                 "propagate_conv_transpose2d", "kwta_conv", "kwta_dense", "stdp_conv",
                 "stdp_dense", "tadros_dense", "first_spike", "spikes_to_events",
                 "events_to_spikes", "available_backends", "BackendUnavailableError",
                 "LIFParams", "STDPParams", "TadrosParams"]:
        assert callable(getattr(K, name)), name
    assert issubclass(K.BackendUnavailableError, RuntimeError)
    with pytest.raises(AttributeError):
        K.no_such_kernel  # noqa: B018


def test_param_defaults() -> None:
    assert K.LIFParams() == (1.0, 1.0, "zero", 0)
    assert K.STDPParams() == (0.004, -0.003, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
    assert K.STDPParams().deltas() == (0.004, -0.003)
    assert K.TadrosParams() == (0.064, 0.069, 0.001)


def test_available_backends() -> None:
    backends = K.available_backends()
    assert isinstance(backends, tuple) and backends[0] == "cpu"
    assert set(backends) <= {"cpu", "cuda"}


def test_auto_with_numpy_runs_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """"auto" + NumPy -> the CPU implementation is called (spied), even where CUDA could run."""
    import spikedefense.kernels.cpu.lif as cpu_lif

    calls = []
    real = cpu_lif.lif_run

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cpu_lif, "lif_run", spy)
    s, _ = K.lif_run(np.ones((2, 3), np.float32), K.LIFParams(), backend="auto")
    assert calls == [1]
    assert isinstance(s, np.ndarray) and s.tolist() == [[1, 1, 1], [1, 1, 1]]
    s, _ = K.lif_run(np.ones((2, 3), np.float32), K.LIFParams())  # the default is "auto"
    assert calls == [1, 1]


def test_auto_with_numpy_needs_no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "cuda_unavailable_reason", lambda: "no GPU in this test")
    assert K.available_backends() == ("cpu",)
    out = K.bernoulli_encode(np.full(5, 0.5), 3, seed=4, backend="auto")
    np.testing.assert_array_equal(out, K.bernoulli_encode(np.full(5, 0.5), 3, seed=4,
                                                          backend="cpu"))


CUDA_CALLS = {
    "lif_run": lambda: K.lif_run(np.ones((2, 3), np.float32), K.LIFParams(), backend="cuda"),
    "bernoulli_encode": lambda: K.bernoulli_encode(np.zeros(3), 2, backend="cuda"),
    "propagate_dense": lambda: K.propagate_dense(np.ones((1, 2), np.uint8), np.ones((2, 2)),
                                                 backend="cuda"),
    "kwta_dense": lambda: K.kwta_dense(np.ones(3), np.zeros(3, np.int64), 1, backend="cuda"),
    "first_spike": lambda: K.first_spike(np.ones((2, 3), np.uint8), backend="cuda"),
}


@pytest.mark.parametrize("op", sorted(CUDA_CALLS))
def test_cuda_unavailable_raises(monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    monkeypatch.setattr(dispatch, "cuda_unavailable_reason", lambda: "no GPU in this test")
    with pytest.raises(K.BackendUnavailableError, match="no GPU in this test"):
        CUDA_CALLS[op]()


def test_gpu_is_not_a_backend_name() -> None:
    with pytest.raises(ValueError, match=r"^backend:"):
        K.lif_run(np.ones((2, 3), np.float32), K.LIFParams(), backend="gpu")


@pytest.mark.parametrize("op", ["lif_run", "bernoulli_encode", "propagate_dense",
                                "propagate_conv2d", "propagate_conv_transpose2d", "kwta_conv",
                                "kwta_dense", "stdp_conv", "stdp_dense", "tadros_dense",
                                "first_spike", "spikes_to_events", "events_to_spikes"])
def test_every_op_takes_a_backend_keyword(op: str) -> None:
    import inspect

    param = inspect.signature(getattr(K, op)).parameters.get("backend")
    assert param is not None, f"{op} has no backend keyword"
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default == "auto"
