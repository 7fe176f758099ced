"""``to_spiking``: any feed-forward PyTorch chain as a :class:`SpikingNetwork`; ``from_spiking``:
its exact inverse.

Supported layers (as modules, or ``torch.relu`` / ``torch.sigmoid`` / ``view`` / ``reshape`` /
``flatten`` calls in a forward that is a plain chain): ``Conv2d`` and ``ConvTranspose2d``
(square kernel, stride and padding; no dilation, groups or output padding), ``Linear``,
``BatchNorm1d`` / ``BatchNorm2d`` directly after one of those (folded), ``ReLU``, ``Sigmoid``,
``Flatten``, ``Unflatten``, ``AvgPool2d`` (square, ``count_include_pad``, no ceil mode),
``Identity`` and ``Dropout`` (no-ops in eval mode). The model is given as an ``nn.Sequential``
or any module whose forward is such a chain (read with ``torch.fx``); anything else - another
layer type, a skip connection, a second input - is refused with its position and path.

The method is the one of the spiking VAE (:mod:`.svae`), layer by layer: BatchNorm folded, then
data-based normalisation (``scale`` = the ``percentile`` of the layer's positive activations on
the calibration images; ``W~ = W' * input_scale / scale``, ``b~ = b' / scale``). A weight layer
followed by ReLU becomes a layer of integrate-and-fire neurons firing at ``activation / scale``
spikes per step; one without (identity or sigmoid) is a readout (:mod:`spikedefense.snn.chain`).
An average pool of non-negative inputs is a spiking layer whose weight averages each channel.
After building, the converted layers are run as an ANN (float64, no spikes) on calibration
images and must reproduce the model's output: a mismatch is an error, not a silent difference.

``from_spiking`` unnormalises, unfolds BatchNorm (its statistics come back) and rebuilds the
model: an ``nn.Sequential`` (nested as the original) when the original was one, else a
:class:`ConvertedChain` whose modules sit at the original paths, so ``state_dict`` keys match.
Modules the forward never calls are not part of the chain and are not rebuilt.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4),
    ...                       nn.ReLU(), nn.Flatten(), nn.Linear(4 * 28 * 28, 10)).eval()
    >>> net = to_spiking(model, torch.rand(32, 1, 28, 28))
    >>> back = from_spiking(net)
    >>> x = torch.rand(2, 1, 28, 28)
    >>> bool((back(x) - model(x)).abs().max() < 1e-5), [layer.kind for layer in net.layers]
    (True, ['conv', 'linear'])
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F  # noqa: N812
from torch import nn

from .._validate import check_square
from ..snn.chain import ChainOp, SpikingNetwork
from ..snn.imported import pool_weight
from ..snn.svae import ConvertedLayer
from ._fold import check_percentile, fold_layer, percentile_scales, unfold_layer

__all__ = ["ConvertedChain", "SUPPORTED_LAYERS", "from_spiking", "to_spiking"]

_WEIGHTS = {"Conv2d": "conv", "ConvTranspose2d": "deconv", "Linear": "linear"}
_NORMS = ("BatchNorm1d", "BatchNorm2d")
_NOOPS = ("Identity", "Dropout")
_RESHAPES = ("Flatten", "Unflatten")
#: Class names of the modules :func:`to_spiking` converts.
SUPPORTED_LAYERS = (*_WEIGHTS, *_NORMS, "ReLU", "Sigmoid", *_RESHAPES, "AvgPool2d", *_NOOPS)
_FUNCTIONS = {torch.relu: "relu", F.relu: "relu", torch.sigmoid: "sigmoid",
              F.sigmoid: "sigmoid", torch.flatten: "flatten"}  # fmt: skip
_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "view": "reshape", "reshape": "reshape",
            "flatten": "reshape"}  # fmt: skip
_CHECK_IMAGES = 16
_CHECK_TOLERANCE = 1e-4


def _config(module: nn.Module, where: str) -> dict[str, Any]:
    """Constructor arguments of a supported module; unsupported settings are refused."""
    kind = type(module).__name__
    if kind in ("Conv2d", "ConvTranspose2d"):
        m: Any = module
        if check_square(where, "dilation", m.dilation) != 1 or m.groups != 1:
            raise ValueError(f"{where}: dilation and groups must be 1 (got {m.dilation}, "
                             f"{m.groups})")  # fmt: skip
        if m.padding_mode != "zeros" or (kind == "ConvTranspose2d" and any(m.output_padding)):
            raise ValueError(f"{where}: only zero padding and no output_padding are supported")
        return {"in_channels": m.in_channels, "out_channels": m.out_channels,
                "kernel_size": check_square(where, "kernel", m.kernel_size),
                "stride": check_square(where, "stride", m.stride),
                "padding": check_square(where, "padding", m.padding), "bias": m.bias is not None}
    if kind == "Linear":
        return {"in_features": module.in_features, "out_features": module.out_features,
                "bias": module.bias is not None}
    if kind in _NORMS:
        norm: Any = module
        if not norm.track_running_stats or norm.running_mean is None:
            raise ValueError(f"{where}: a BatchNorm without running statistics cannot be folded "
                             "(track_running_stats=False normalises by each batch)")  # fmt: skip
        return {"num_features": norm.num_features, "eps": norm.eps, "momentum": norm.momentum,
                "affine": norm.affine}  # fmt: skip
    if kind == "AvgPool2d":
        pool: Any = module
        if pool.ceil_mode or not pool.count_include_pad or pool.divisor_override is not None:
            raise ValueError(f"{where}: only AvgPool2d(ceil_mode=False, count_include_pad=True, "
                             "divisor_override=None) is supported")  # fmt: skip
        k = check_square(where, "kernel", pool.kernel_size)
        return {"kernel_size": k, "stride": check_square(where, "stride", pool.stride or k),
                "padding": check_square(where, "padding", pool.padding)}
    if kind == "Flatten":
        return {"start_dim": module.start_dim, "end_dim": module.end_dim}
    if kind == "Unflatten":
        m = module
        return {"dim": m.dim, "unflattened_size": tuple(m.unflattened_size)}
    if kind == "Dropout":
        return {"p": module.p}
    return {}


def _check_model(module: Any) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")


def _trace(module: nn.Module) -> torch.fx.GraphModule:
    try:
        return torch.fx.symbolic_trace(module)
    except Exception as error:  # fx raises many kinds; all mean "not a plain chain"
        raise ValueError(f"module: its forward is not a traceable feed-forward chain "
                         f"({type(error).__name__}: {error})") from error  # fmt: skip


def _chain(module: nn.Module) -> list[tuple[torch.fx.Node, ChainOp]]:
    """The forward of ``module`` as ``(fx node, op)`` pairs, refusing anything but a chain."""
    graph = _trace(module).graph
    ops: list[tuple[torch.fx.Node, ChainOp]] = []
    current: torch.fx.Node | None = None
    helpers: set[torch.fx.Node] = set()
    for node in graph.nodes:
        where = f"position {len(ops)}"
        if node.op == "placeholder":
            if current is not None:
                raise ValueError(f"module: its forward takes more than one input ({node.name})")
            current = node
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise ValueError("module: its forward must return the chain's last value "
                                 "(one tensor)")  # fmt: skip
            break
        inputs = [n for n in node.all_input_nodes if n not in helpers]
        sizes = (node.op == "call_method" and node.target == "size") or (
            node.op == "call_function" and node.target is getattr)
        if sizes or (node.op == "call_function" and node.target is operator.getitem
                     and not inputs):  # fmt: skip
            helpers.add(node)  # x.size(0), x.shape[0]: only read by a reshape
            continue
        if inputs != [current]:
            raise ValueError(f"module: not a feed-forward chain at {where}: it reads "
                             f"{[n.name for n in inputs]}, the chain's value is "
                             f"{getattr(current, 'name', None)!r}")  # fmt: skip
        ops.append((node, _op(module, node, where)))
        current = node
    if not ops:
        raise ValueError("module: its forward calls no layer")
    return ops


def _op(module: nn.Module, node: torch.fx.Node, where: str) -> ChainOp:
    if node.op == "call_module":
        path = str(node.target)
        sub = module.get_submodule(path)
        kind = type(sub).__name__
        if kind not in SUPPORTED_LAYERS:
            raise ValueError(f"module: unsupported layer {kind} at {where}, path {path!r}; "
                             f"supported: {', '.join(SUPPORTED_LAYERS)}")  # fmt: skip
        return ChainOp("module", path, kind, _config(sub, f"layer {path!r} ({kind})"))
    if node.op == "call_function" and node.target in _FUNCTIONS:
        name = _FUNCTIONS[node.target]
        return ChainOp("reshape" if name == "flatten" else "function", "", name, {})
    if node.op == "call_method" and node.target in _METHODS:
        name = _METHODS[str(node.target)]
        return ChainOp("reshape" if name == "reshape" else "function", "", name, {})
    raise ValueError(f"module: unsupported operation at {where}; supported: the layers "
                     f"{', '.join(SUPPORTED_LAYERS)}, torch.relu, torch.sigmoid and "
                     "view / reshape / flatten")  # fmt: skip


@dataclass
class _Pending:
    """A layer being assembled from consecutive ops."""

    kind: str
    module: str
    node: torch.fx.Node
    input_node: torch.fx.Node
    norm: str = ""
    activation: str = "identity"
    out_node: torch.fx.Node | None = None
    reshaped: bool = False


def _layers(ops: list[tuple[torch.fx.Node, ChainOp]]) -> list[_Pending]:
    """Group the ops into layers (module docstring for the rules)."""
    layers: list[_Pending] = []
    current: _Pending | None = None
    nonnegative = True  # pixels
    for position, (node, op) in enumerate(ops):
        where = f"{op.type} at position {position}" + (f", path {op.path!r}" if op.path else "")
        if op.type in _WEIGHTS or op.type == "AvgPool2d":
            if current is not None:
                nonnegative = current.activation in ("relu", "sigmoid")
            kind = _WEIGHTS.get(op.type, "avgpool")
            input_node = node.all_input_nodes[0]
            current = _Pending(kind, op.path, node, input_node, out_node=node)
            if kind == "avgpool" and nonnegative:
                current.activation = "relu"  # the average of non-negative inputs
            layers.append(current)
        elif op.type in _NORMS:
            if current is None or current.kind == "avgpool" or current.norm or current.reshaped \
                    or current.activation != "identity":  # fmt: skip
                raise ValueError(f"module: {where} must directly follow a Conv2d, "
                                 "ConvTranspose2d or Linear (it is folded into it)")  # fmt: skip
            current.norm, current.out_node = op.path, node
        elif op.type in ("ReLU", "relu"):
            if current is not None and current.activation == "identity":
                current.activation = "relu"
            if current is not None:
                current.out_node = node
        elif op.type in ("Sigmoid", "sigmoid"):
            if current is None or current.activation != "identity":
                raise ValueError(f"module: {where} must follow a weight layer directly (a "
                                 "sigmoid of spikes or of pixels has no spiking form)")  # fmt: skip
            current.activation, current.out_node = "sigmoid", node
        elif op.kind == "reshape" or op.type in _RESHAPES:
            if current is not None:
                current.reshaped = True
    if not layers:
        raise ValueError("module: it has no Conv2d, ConvTranspose2d, Linear or AvgPool2d layer")
    return layers


class _Recorder(torch.fx.Interpreter):
    """Runs the traced model, keeping the outputs of chosen nodes."""

    def __init__(self, gm: torch.fx.GraphModule, keep: set[str]) -> None:
        super().__init__(gm)
        self.keep: set[str] = keep
        self.values: dict[str, Any] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        out = super().run_node(n)
        if n.name in self.keep:
            self.values[n.name] = out
        return out


def _calibrate(module: nn.Module, layers: list[_Pending], images: torch.Tensor,
               reshapes: set[str], batch: int = 64) -> tuple[Any, Any, torch.Tensor]:  # fmt: skip
    """``({layer: positive activations}, {node: shape}, the model's output on the first
    images)``."""
    from ..models import eval_mode

    gm = _trace(module)
    names = {p.input_node.name for p in layers} | {p.node.name for p in layers}
    names |= {p.out_node.name for p in layers if p.out_node is not None} | reshapes
    found: dict[str, list[np.ndarray]] = {p.module: [] for p in layers if p.activation == "relu"}
    shapes: dict[str, tuple[int, ...]] = {}
    first: torch.Tensor | None = None
    with eval_mode(gm), torch.no_grad():
        for start in range(0, len(images), batch):
            recorder = _Recorder(gm, names)
            out = recorder.run(images[start : start + batch])
            if first is None:
                first = out.detach().double()[:_CHECK_IMAGES]
                shapes = {k: tuple(v.shape[1:]) for k, v in recorder.values.items()}
            for p in layers:
                if p.activation == "relu" and p.out_node is not None:
                    a = recorder.values[p.out_node.name].detach()
                    found[p.module].append(a[a > 0].double().cpu().numpy())
    assert first is not None
    return {k: np.concatenate(v) for k, v in found.items()}, shapes, first


def _pool_module(channels: int, config: dict[str, Any]) -> nn.Conv2d:
    k = config["kernel_size"]
    conv = nn.Conv2d(channels, channels, k, config["stride"], config["padding"], bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(pool_weight(channels, k, average=True)))
    return conv


def _check_calibration(images: Any) -> torch.Tensor:
    from .._validate import check_images

    check_images(images, "calibration_images", ndim=None)
    return images.detach().float().cpu()


def _analog(layers: tuple[ConvertedLayer, ...], x: torch.Tensor) -> torch.Tensor:
    """The converted layers as an ANN (float64): the output the spike rates approach."""
    from ..snn.chain_run import readout

    value = x.double()
    for layer in layers:  # values in each layer's normalised units (activation / scale)
        value = readout(layer, value.reshape(len(x), *layer.in_shape))
        if layer.activation == "relu":
            value = value.clamp_min(0.0)
        elif layer.activation == "sigmoid":
            value = torch.sigmoid(value)
    if layers[-1].activation == "relu":
        value = value * layers[-1].scale
    return value.reshape(len(x), *layers[-1].out_shape)


def _containers(module: nn.Module, ops: list[ChainOp]) -> dict[str, str]:
    found = {"": "Sequential" if type(module) is nn.Sequential else "Module"}
    for op in ops:
        parts = op.path.split(".")[:-1] if op.path else []
        for depth in range(1, len(parts) + 1):
            path = ".".join(parts[:depth])
            kind = type(module.get_submodule(path))
            found[path] = "Sequential" if kind is nn.Sequential else "Module"
    return found


def to_spiking(module: nn.Module, calibration_images: torch.Tensor,
               percentile: float = 99.9) -> SpikingNetwork:  # fmt: skip
    """Convert a feed-forward model into a :class:`SpikingNetwork` (module docstring).

    Args:
        module: an ``nn.Sequential`` or a module whose forward is a chain of supported layers
            (its train/eval flags are left as they were; calibration runs in eval mode, on CPU).
        calibration_images: float ``[N, *input_shape]`` in [0, 1], N >= 1, whose activations
            set the normalisation scales.
        percentile: in (0, 100]; 100 is max-normalisation, 99.9 the robust default.

    Raises:
        TypeError / ValueError: a wrong argument, an unsupported layer (named with its position
        and path), or converted layers that do not reproduce the model's output.
    """
    import copy

    _check_model(module)
    images = _check_calibration(calibration_images)
    percentile = check_percentile(percentile)
    model = copy.deepcopy(module).cpu().float()  # the caller's module stays as it is
    pairs = _chain(model)
    pending = _layers(pairs)
    reshapes = {node.name for node, op in pairs if op.kind == "reshape"}
    acts, shapes, expected = _calibrate(model, pending, images, reshapes)
    _check_ranks(pending, shapes)
    scales = percentile_scales(acts, percentile)
    layers, input_scale = [], 1.0
    for p in pending:
        scale = scales.get(p.module, 1.0) if p.activation == "relu" else 1.0
        extra = {"in_shape": shapes[p.input_node.name], "out_shape": shapes[p.node.name],
                 "module": p.module, "norm": p.norm}  # fmt: skip
        if p.kind == "avgpool":
            weight = _pool_module(extra["in_shape"][0], _config(model.get_submodule(p.module), ""))
            layers.append(fold_layer(p.module, "avgpool", weight, None, p.activation, scale,
                                     input_scale, **extra))  # fmt: skip
        else:
            norm = model.get_submodule(p.norm) if p.norm else None
            layers.append(fold_layer(p.module, p.kind, model.get_submodule(p.module), norm,
                                     p.activation, scale, input_scale, **extra))  # fmt: skip
        input_scale = scale if p.activation == "relu" else 1.0
    ops = tuple(_with_shape(node, op, shapes) for node, op in pairs)
    net = SpikingNetwork(tuple(layers), ops, tuple(images.shape[1:]), percentile,
                         _containers(model, [op for op in ops]))  # fmt: skip
    _check_equivalent(net, images[:_CHECK_IMAGES], expected)
    return net


_RANKS = {"linear": 1, "conv": 3, "deconv": 3, "avgpool": 3}


def _check_ranks(layers: list[_Pending], shapes: dict[str, tuple[int, ...]]) -> None:
    for p in layers:
        rank = len(shapes[p.input_node.name])
        if rank != _RANKS[p.kind]:
            want = "[B, features] (flatten first)" if p.kind == "linear" else "[B, C, H, W]"
            raise ValueError(f"module: layer {p.module!r} ({p.kind}) gets input of shape "
                             f"[B, {', '.join(map(str, shapes[p.input_node.name]))}]; "
                             f"expected {want}")  # fmt: skip


def _with_shape(node: torch.fx.Node, op: ChainOp, shapes: dict[str, tuple[int, ...]]) -> ChainOp:
    if op.kind != "reshape":
        return op
    return op._replace(config={"shape": shapes[node.name]})


def _check_equivalent(net: SpikingNetwork, x: torch.Tensor, expected: torch.Tensor) -> None:
    got = _analog(net.layers, x)
    if tuple(got.shape) != tuple(expected.shape):
        raise ValueError(f"module: the converted layers give shape {tuple(got.shape)} but the "
                         f"model gives {tuple(expected.shape)}; its forward does more than "
                         "the chain of supported layers")  # fmt: skip
    error = float((got - expected).abs().max() / expected.abs().max().clamp_min(1e-12))
    if error > _CHECK_TOLERANCE:
        raise ValueError(f"module: the converted layers differ from the model by {error:.3g} "
                         "(relative) on the calibration images; its forward does more than the "
                         "chain of supported layers")  # fmt: skip


class ConvertedChain(nn.Module):
    """A rebuilt chain: the modules at their original paths, ``forward`` the original chain.

    Args:
        ops: the :class:`~spikedefense.snn.chain.ChainOp` s, in order.
        containers: ``{path: "Sequential" | "Module"}`` of the containers (as in the original).
    """

    def __init__(self, ops: tuple[ChainOp, ...], containers: dict[str, str]) -> None:
        super().__init__()
        self.ops = tuple(ops)
        _populate(self, ops, containers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            if op.kind == "module":
                x = self.get_submodule(op.path)(x)
            elif op.kind == "reshape":
                x = x.reshape(x.shape[0], *op.config["shape"])
            else:
                x = torch.relu(x) if op.type == "relu" else torch.sigmoid(x)
        return x


def _new_module(op: ChainOp) -> nn.Module:
    return getattr(nn, op.type)(**op.config)


def _populate(root: nn.Module, ops: tuple[ChainOp, ...], containers: dict[str, str]) -> None:
    """Create every module (and its containers) of ``ops`` under ``root`` at its path."""
    for op in ops:
        if op.kind != "module" or _has(root, op.path):
            continue
        parent, parts = root, op.path.split(".")
        for depth, part in enumerate(parts[:-1], start=1):
            path = ".".join(parts[:depth])
            if not _has(root, path):
                container = nn.Sequential() if containers.get(path) == "Sequential" else nn.Module()
                parent.add_module(part, container)
            parent = parent.get_submodule(part)
        parent.add_module(parts[-1], _new_module(op))


def _has(root: nn.Module, path: str) -> bool:
    try:
        root.get_submodule(path)
    except AttributeError:
        return False
    return True


def _plain_sequential(net: SpikingNetwork) -> bool:
    if any(kind != "Sequential" for kind in net.containers.values()):
        return False
    paths = [op.path for op in net.ops]
    return all(op.kind == "module" for op in net.ops) and len(set(paths)) == len(paths)


@torch.no_grad()
def from_spiking(net: SpikingNetwork) -> nn.Module:
    """The PyTorch model of ``net`` (CPU, float32, eval mode): :func:`to_spiking`'s inverse.

    Weights are unnormalised and BatchNorm unfolded in float64, so a round trip gives back the
    same weights (to float32 rounding) and the same outputs.
    """
    if not isinstance(net, SpikingNetwork):
        raise TypeError(f"net: expected a SpikingNetwork, got {type(net).__name__}")
    root: nn.Module = nn.Sequential() if _plain_sequential(net) else ConvertedChain(
        net.ops, dict(net.containers))  # fmt: skip
    if isinstance(root, nn.Sequential):
        _populate(root, net.ops, dict(net.containers))
    for layer in net.layers:
        if layer.kind == "avgpool":
            continue
        norm = root.get_submodule(layer.norm) if layer.norm else None
        unfold_layer(layer, root.get_submodule(layer.module), norm)
    return root.eval()
