"""The shared part of :func:`.from_snntorch` and :func:`.from_norse`: a feed-forward
``nn.Sequential`` of ``torch.nn`` synapses and a library's neuron modules as an
:class:`~spikedefense.snn.imported.ImportedNetwork`.

Synapses: ``nn.Linear``, ``nn.Conv2d`` (square kernel, equal strides and paddings, zero padding
mode, dilation 1, groups 1), ``nn.Flatten`` (of the whole sample), ``nn.AvgPool2d`` (no
padding, no ceil mode, no divisor override) and ``nn.MaxPool2d`` (no padding, dilation 1, no
ceil mode); ``nn.Identity`` and ``nn.Dropout`` are skipped (no-ops in evaluation). Nested
``nn.Sequential`` s are read in order, their modules named by path (``"2.0"``). The neuron
modules are the library's (``neuron_of`` maps one to a :class:`Neuron`, or None for any other
module, which is then refused with its path and type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validate import check_square
from ..snn.imported import ImportedLayer, ImportedNetwork, Neuron, SynapseOp

__all__ = ["check_input_shape", "scalar", "sequential_network"]

_SKIPPED = ("Identity", "Dropout")


def scalar(path: str, field: str, value: Any) -> float:
    """A neuron parameter as a float; a per-neuron tensor with different values is refused."""
    import torch

    t = torch.as_tensor(value).detach().double().reshape(-1)
    if t.numel() < 1 or not bool(torch.all(t == t[0])):
        raise ValueError(f"module {path!r}: per-neuron {field} (shape "
                         f"{list(torch.as_tensor(value).shape)}) cannot be represented: the core "
                         f"takes one {field} per layer")  # fmt: skip
    if not bool(torch.isfinite(t[0])):
        raise ValueError(f"module {path!r}: {field} = {float(t[0])} is not finite")
    return float(t[0])


def check_input_shape(input_shape: Any) -> tuple[int, ...] | None:
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    if not shape or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
        raise ValueError(f"input_shape: expected a tuple of ints >= 1 (one sample, no batch), "
                         f"got {input_shape!r}")  # fmt: skip
    return tuple(int(s) for s in shape)


def _modules(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    from torch import nn

    out = []
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if type(child) is nn.Sequential:
            out.extend(_modules(child, path + "."))
        else:
            out.append((path, child))
    return out


def _square(path: str, field: str, value: Any) -> int:
    return check_square(f"module {path!r}", field, value)


def _synapse(path: str, m: Any, shape: tuple[int, ...]) -> tuple[SynapseOp, tuple[int, ...]]:
    kind = type(m).__name__
    if kind == "Linear":
        if len(shape) != 1 or shape[0] != m.in_features:
            raise ValueError(f"module {path!r} (Linear): in_features {m.in_features} does not "
                             f"fit the signal of shape {list(shape)} reaching it")  # fmt: skip
        bias = None if m.bias is None else m.bias.detach().float().numpy().copy()
        weight = np.ascontiguousarray(m.weight.detach().float().numpy())
        return SynapseOp("linear", path, weight, bias), (m.out_features,)
    if kind == "Flatten":
        if m.start_dim != 1 or m.end_dim != -1:
            raise ValueError(f"module {path!r} (Flatten): start_dim {m.start_dim}, end_dim "
                             f"{m.end_dim}; only flattening the whole sample (1, -1) is "
                             "supported")  # fmt: skip
        return SynapseOp("flatten", path), (int(np.prod(shape)),)
    if len(shape) != 3:
        raise ValueError(f"module {path!r} ({kind}): expects a [C, H, W] signal, got "
                         f"{list(shape)}")  # fmt: skip
    if kind == "Conv2d":
        if m.in_channels != shape[0]:
            raise ValueError(f"module {path!r} (Conv2d): in_channels {m.in_channels} does not "
                             f"fit the signal of shape {list(shape)}")  # fmt: skip
        if (_square(path, "dilation", m.dilation) != 1 or m.groups != 1
                or m.padding_mode != "zeros" or isinstance(m.padding, str)):  # fmt: skip
            raise ValueError(f"module {path!r} (Conv2d): dilation {m.dilation}, groups "
                             f"{m.groups}, padding {m.padding!r} ({m.padding_mode}); supported: "
                             "dilation 1, groups 1, int zero padding")  # fmt: skip
        k = _square(path, "kernel_size", m.kernel_size)
        bias = None if m.bias is None else m.bias.detach().float().numpy().copy()
        op = SynapseOp("conv", path, np.ascontiguousarray(m.weight.detach().float().numpy()),
                       bias, _square(path, "stride", m.stride),
                       _square(path, "padding", m.padding), k)  # fmt: skip
        channels = m.out_channels
    else:  # AvgPool2d / MaxPool2d
        k = _square(path, "kernel_size", m.kernel_size)
        stride = _square(path, "stride", m.stride if m.stride is not None else k)
        extra = (getattr(m, "divisor_override", None) is not None
                 or _square(path, "dilation", getattr(m, "dilation", 1)) != 1)  # fmt: skip
        if _square(path, "padding", m.padding) != 0 or m.ceil_mode or extra:
            raise ValueError(f"module {path!r} ({kind}): only padding 0, no ceil mode, dilation "
                             "1 and no divisor override are supported")  # fmt: skip
        op = SynapseOp("avgpool" if kind == "AvgPool2d" else "maxpool", path, None, None,
                       stride, 0, k)  # fmt: skip
        channels = shape[0]
    out = [(s + 2 * op.padding - k) // op.stride + 1 for s in shape[1:]]
    if min(out) < 1:
        raise ValueError(f"module {path!r} ({kind}): kernel {k} does not fit the input "
                         f"{list(shape)}")  # fmt: skip
    return op, (channels, *out)


_SYNAPSES = ("Linear", "Conv2d", "Flatten", "AvgPool2d", "MaxPool2d")


def sequential_network(module: Any, input_shape: Any, dt: float, source: str,
                       neuron_of: Callable[[str, Any], Neuron | None],
                       neuron_names: str) -> ImportedNetwork:  # fmt: skip
    """``module`` (an ``nn.Sequential``) as an :class:`ImportedNetwork` (module docstring)."""
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module: expected a torch.nn.Sequential (feed-forward), got "
                        f"{type(module).__name__}")  # fmt: skip
    shape = check_input_shape(input_shape)
    modules = [(p, m) for p, m in _modules(module) if type(m).__name__ not in _SKIPPED]
    if not modules:
        raise ValueError("module: no layers")
    if shape is None:
        first = modules[0][1]
        if not isinstance(first, nn.Linear):
            raise ValueError(f"input_shape: needed when the first module is not an nn.Linear "
                             f"(module {modules[0][0]!r} is a {type(first).__name__})")
        shape = (first.in_features,)
    input_shape = shape
    layers: list[ImportedLayer] = []
    ops: list[SynapseOp] = []
    layer_in = shape
    for path, m in modules:
        kind = type(m).__name__
        if kind in _SYNAPSES:
            op, shape = _synapse(path, m, shape)
            ops.append(op)
            continue
        neuron = neuron_of(path, m)
        if neuron is None:
            raise ValueError(f"module {path!r}: unsupported module type {kind}; supported: "
                             f"{', '.join(_SYNAPSES)}, {neuron_names}")  # fmt: skip
        layers.append(ImportedLayer(path, tuple(ops), neuron, layer_in, shape))
        ops, layer_in = [], shape
    if ops:
        layers.append(ImportedLayer(ops[-1].name, tuple(ops), None, layer_in, shape))
    return ImportedNetwork(tuple(layers), input_shape, dt, source)
