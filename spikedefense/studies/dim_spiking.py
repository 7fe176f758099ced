"""How the spiking DIM compares with the ANN it converts from, as T grows.

- :func:`output_error_table`: for one converted network, the mean squared error between its
  rates and the ANN's output for each T (the conversion's convergence, as ``results/svae``);
- :func:`accuracy_table`: accuracy of the spiking DIM for each T beside the ANN's, on the same
  images, with 95 % Wilson intervals and inference images/s on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["accuracy_table", "output_error_table"]

STEPS = (8, 16, 32, 64, 128, 256)


def output_error_table(model: torch.nn.Module, net: Any, images: torch.Tensor,
                       steps: Sequence[int] = STEPS, *, seed: int = 0,
                       backend: str = "cpu") -> list[dict[str, float]]:  # fmt: skip
    """Rows ``{"steps", "mse", "relative_mse"}``: the converted ``net``'s rates against
    ``model``'s output (eval mode) on ``images``; relative = mse / mean square of the output."""
    from ..models import eval_mode

    with eval_mode(model), torch.no_grad():
        ref = model(images).double()
    power = float((ref**2).mean())
    rows = []
    for t in steps:
        out = net.run(images, t, seed=seed, backend=backend, record=False).rates.double()
        mse = float(((out - ref) ** 2).mean())
        rows.append({"steps": int(t), "mse": mse, "relative_mse": mse / power})
    return rows


def accuracy_table(dim: Any, spiking: Any, images: torch.Tensor, labels: torch.Tensor,
                   steps: Sequence[int] = STEPS) -> dict[str, Any]:  # fmt: skip
    """``{"ann": {...}, "spiking": [{"steps", "accuracy", "interval", "images_per_s"}, ...]}``."""
    from ..evaluation.intervals import accuracy_interval
    from ..models.dim_train import dim_accuracy

    def row(model: Any) -> dict[str, Any]:
        began = time.perf_counter()
        acc = dim_accuracy(model, images, labels)
        seconds = time.perf_counter() - began
        return {"accuracy": acc, "interval": list(accuracy_interval(acc, len(labels))),
                "images_per_s": len(labels) / seconds, "threads": torch.get_num_threads()}

    return {"n": len(labels), "ann": row(dim),
            "spiking": [{"steps": int(t), **row(spiking.with_steps(t))} for t in steps]}
