"""Run modules in eval mode, recursively, and put every submodule's flag back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["eval_mode"]


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Inside the block every submodule of ``modules`` is in eval mode (BatchNorm uses its
    running statistics and does not update them, dropout is off); on exit, even on error,
    each submodule gets back its own ``training`` flag.

    Example:
        >>> net = nn.Sequential(nn.BatchNorm1d(3)).train()
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
    flags = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, flag in flags:
            m.training = flag
