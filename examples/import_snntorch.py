"""Import an snnTorch model onto the event-driven core and draw its raster plot.

Builds a feed-forward snnTorch model of the kind its tutorials train (``Linear`` -> ``Leaky`` ->
``Linear`` -> ``Leaky``, ``beta`` 0.9, reset by subtraction; random weights: the point is the
import, not the training), imports it with :func:`spikedefense.convert.from_snntorch`,
Bernoulli-encodes random images, runs them on the core, steps the same model in snnTorch on the
same input spikes, prints how many spikes differ (none expected, up to float rounding near the
threshold) and saves a raster plot of the input and both layers.

    python examples/import_snntorch.py [--steps 50] [--hidden 200] [--seed 0] [--backend cpu]
                                       [--out out/import_snntorch.png]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import snntorch
import torch
from spikedefense.kernels import bernoulli_encode
from torch import nn

from spikedefense.convert import from_snntorch
from spikedefense.snn import SpikeRecord


def build(hidden: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden),
                          snntorch.Leaky(beta=0.9, init_hidden=True),
                          nn.Linear(hidden, 10), snntorch.Leaky(beta=0.9, init_hidden=True))
    with torch.no_grad():
        model[1].weight.mul_(8.0)  # enough drive for the hidden layer to fire at random weights
        model[3].weight.mul_(4.0)
    return model


def step_snntorch(model: nn.Sequential, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """snnTorch's own spikes per Leaky, stepping ``model`` from rest."""
    out: dict[str, list[torch.Tensor]] = {}
    for name, m in model.named_modules():
        if isinstance(m, snntorch.Leaky):
            m.mem = torch.zeros(0)
            m.register_forward_hook(lambda _m, _i, spk, name=name: out.setdefault(name, [])
                                    .append(spk.clone()))  # fmt: skip
    with torch.no_grad():
        for x in torch.from_numpy(spikes.astype(np.float32)):
            model(x)
    return {name: torch.stack(s).numpy().astype(np.uint8) for name, s in out.items()}


def save_plot(records: list[SpikeRecord], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikedefense.viz import raster_plot
    from spikedefense.viz.curves import save_figure

    fig, ax = plt.subplots(figsize=(10, 6), constrained_layout=True)
    raster_plot(records, ax=ax, title=title)
    save_figure(fig, path, dpi=120)  # atomically
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="time steps T")
    parser.add_argument("--hidden", type=int, default=200, help="hidden Leaky neurons")
    parser.add_argument("--batch", type=int, default=4, help="images")
    parser.add_argument("--seed", type=int, default=0, help="weight and encoding seed")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", default=os.path.join("out", "import_snntorch.png"))
    args = parser.parse_args()

    start = time.perf_counter()
    model = build(args.hidden, args.seed)
    net = from_snntorch(model, (1, 28, 28))
    images = np.random.default_rng(args.seed).random((args.batch, 1, 28, 28), np.float32) * 0.5
    spikes = bernoulli_encode(images, args.steps, seed=args.seed)
    ours = net.run(spikes, backend=args.backend)
    theirs = step_snntorch(model, spikes)
    for name, want in theirs.items():
        got = ours.records[name].to_dense()
        print(f"layer {name}: {int(want.sum()):,} snnTorch spikes, {ours.records[name].count:,} "
              f"on the core, {int((got != want).sum())} of {want.size:,} neuron-steps differ")
    first = [SpikeRecord.from_dense(spikes[:, :1], name="input (784)")]
    first += [SpikeRecord.from_dense(ours.records[n].to_dense()[:, :1], name=f"Leaky {n}")
              for n in ours.records]  # fmt: skip
    save_plot(first, args.out, f"snnTorch model on the core: image 0, T = {args.steps}")
    print(f"raster plot saved to {os.path.abspath(args.out)}  "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
