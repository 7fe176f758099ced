"""One registry that maps ``(op, backend)`` to an implementation.

Each backend is a sub-package (``cpu``, ``cuda``) holding the same file and function names;
the registry records which file holds each op and imports it on first use, so neither Numba's
CPU compiler nor its CUDA target is loaded before a kernel runs. An op may be a fused kernel on
one backend and a composition of the other ops on another (``conv_fire``: one compiled pass on
the CPU, ``propagate_conv2d`` + ``lif_run`` + ``first_spike`` on CUDA): callers never branch on
the backend, they ask the registry.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

BACKENDS = ("cpu", "cuda")

#: op name -> module (same name in every backend package)
REGISTRY: dict[str, str] = {
    "lif_run": "lif",
    "bernoulli_encode": "encode",
    "propagate_dense": "propagate",
    "propagate_conv2d": "propagate",
    "propagate_conv_transpose2d": "propagate",
    "kwta_conv": "kwta",
    "kwta_dense": "kwta",
    "kwta_topk": "kwta",
    "stdp_conv": "stdp",
    "stdp_conv_into": "stdp",
    "stdp_dense": "stdp",
    "tadros_dense": "stdp",
    "first_spike": "record",
    "hebbian_update": "hebbian",
    "competing_steady_state": "hebbian",
    "competing_update": "hebbian",
    # the sleep step's layer: one fused pass on the CPU, the kernels above composed on CUDA
    "conv_fire": "fused",
    "conv_fire_layout": "fused",
}


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here; the message says why."""


@lru_cache(maxsize=1)
def cuda_unavailable_reason() -> str | None:
    """None when the CUDA backend can run, otherwise a sentence saying why not."""
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - depends on the installation
        return f"numba's CUDA target cannot be imported ({exc}); install spikedefense[cuda]"
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # pragma: no cover - driver-specific failures
        return f"the CUDA driver failed to initialise ({exc})"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":  # pragma: no cover
        return "the Numba CUDA simulator is enabled but reports no device"
    return (
        "no CUDA GPU or driver was found by numba.cuda "
        "(set NUMBA_ENABLE_CUDASIM=1 to run the CUDA kernels in the simulator)"
    )


def available_backends() -> tuple[str, ...]:
    """The backends that can run on this machine, ``"cpu"`` first."""
    return ("cpu",) if cuda_unavailable_reason() else ("cpu", "cuda")


def is_device_array(array: Any) -> bool:
    """True for arrays living on a CUDA device (Numba device arrays, CUDA torch tensors, CuPy)."""
    if isinstance(array, (int, float)):
        return False
    return hasattr(array, "__cuda_array_interface__") or hasattr(array, "copy_to_host")


def resolve_backend(backend: str, *arrays: Any) -> str:
    """Turn ``"auto"``/``"cpu"``/``"cuda"`` into a backend that can run, or raise."""
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"backend: expected one of 'auto', 'cpu', 'cuda', got {backend!r}")
    if backend == "auto":
        backend = "cuda" if any(is_device_array(a) for a in arrays) else "cpu"
    if backend == "cuda":
        reason = cuda_unavailable_reason()
        if reason:
            raise BackendUnavailableError(f"backend='cuda' cannot run: {reason}")
    elif any(is_device_array(a) for a in arrays):
        raise ValueError(
            "backend: 'cpu' was requested but an input lives on a CUDA device; "
            "copy it to the host first or use backend='cuda' / 'auto'"
        )
    return backend


def implementation(op: str, backend: str) -> Callable[..., Any]:
    """The function implementing ``op`` on ``backend`` (already resolved)."""
    module = importlib.import_module(f"{__package__}.{backend}.{REGISTRY[op]}")
    return getattr(module, op)
