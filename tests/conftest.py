"""Shared test setup.

Runs the CUDA kernels in Numba's CUDA simulator unless the caller says otherwise: on a machine
with a GPU, run with ``NUMBA_ENABLE_CUDASIM=0`` to test the real device. The variable must be set
before anything imports numba, hence at the very top of this file.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# --import-mode=importlib keeps tests/ off sys.path; the references in naive.py live here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

BACKENDS = ["cpu", pytest.param("cuda", marks=pytest.mark.cudasim)]


def cuda_skip_reason() -> str | None:
    """None when the CUDA backend (real or simulated) can run, else why not."""
    from spikedefense.kernels import available_backends
    from spikedefense.kernels.dispatch import cuda_unavailable_reason

    if "cuda" in available_backends():
        return None
    return f"CUDA backend unavailable: {cuda_unavailable_reason()}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each kernel test runs on the CPU and on CUDA (the simulator where there is no GPU)."""
    if request.param == "cuda":
        reason = cuda_skip_reason()
        if reason:
            pytest.skip(reason)
    return str(request.param)


@pytest.fixture
def cuda_backend() -> str:
    """For tests that compare CUDA with CPU: skipped where CUDA cannot run."""
    reason = cuda_skip_reason()
    if reason:
        pytest.skip(reason)
    return "cuda"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny CUDA blocks so that even small inputs span several blocks."""
    from spikedefense.kernels import config

    monkeypatch.setattr(config, "THREADS_PER_BLOCK", 8)
    monkeypatch.setattr(config, "KWTA_THREADS", 8)
