"""Raster demo: a real MNIST digit through one spiking convolutional layer with k-WTA.

Bernoulli-encodes a digit of the embedded MNIST subset, propagates the spikes event by event
through the S1 layer of seed 000 (64 maps, 5x5, stride 1, padding 2) of non-leaky
integrate-and-fire neurons, selects k-WTA winners with lateral inhibition, and saves a raster plot
(input spikes above, S1 spikes below, winners ringed in red at their first spike).

    python examples/raster_demo.py [--index 0] [--steps 15] [--seed 0] [--backend cpu]
                                   [--out out/raster_demo.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import spikedefense.kernels as K

from spikedefense.data import load_idx_dataset
from spikedefense.snn import SpikeRecord


def run(index: int, steps: int, seed: int, backend: str, threshold: float, k: int,
        radius: int) -> dict:
    images, labels = load_idx_dataset("embedded", "test")
    if not 0 <= index < len(images):
        raise SystemExit(f"--index: expected 0..{len(images) - 1}, got {index}")
    image = images[index].astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    # SpykeTorch's initialisation of STDP layers: weights near 0.8, inside [0, 1].
    weight = np.clip(rng.normal(0.8, 0.05, (64, 1, 5, 5)), 0, 1).astype(np.float32)

    spikes_in = K.bernoulli_encode(image[None], steps, seed=seed, backend=backend)
    currents = K.propagate_conv2d(spikes_in, weight, stride=1, padding=2, backend=backend)
    spikes_out, _ = K.lif_run(currents, K.LIFParams(beta=1.0, threshold=threshold),
                              backend=backend)
    first = K.first_spike(spikes_out, backend=backend)
    # Rank by the potential reached at each neuron's first spike (integrate-and-fire: a cumsum).
    potential = np.cumsum(currents, axis=0)
    at_first = np.take_along_axis(potential, np.maximum(first, 0)[None], axis=0)[0]
    winners = K.kwta_conv(at_first, first, k=k, radius=radius, backend=backend)
    plane = int(np.prod(spikes_out.shape[2:]))
    win_events = np.array([[first[c, y, x], c * plane + y * spikes_out.shape[3] + x]
                           for c, y, x in winners]).reshape(-1, 2)
    return {
        "label": int(labels[index]),
        "input": SpikeRecord.from_dense(spikes_in, name="input (1x28x28)"),
        "s1": SpikeRecord.from_dense(spikes_out, name="S1 (64x28x28)"),
        "winners": winners,
        "win_events": win_events,
    }


def save_plot(result: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikedefense.viz import raster_plot

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True,
                                      height_ratios=[1, 2], constrained_layout=True)
    raster_plot(result["input"], ax=top, title=title)
    s1 = result["s1"]
    raster_plot(s1, ax=bottom, winners={s1.name: result["win_events"]})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=0, help="test image of the embedded subset")
    parser.add_argument("--steps", type=int, default=15, help="time steps T (seed: 15)")
    parser.add_argument("--seed", type=int, default=0, help="encoding and weight seed")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threshold", type=float, default=36.0, help="S1 threshold (seed: 36)")
    parser.add_argument("--k", type=int, default=5, help="k-WTA winners (seed: 5)")
    parser.add_argument("--radius", type=int, default=3, help="inhibition radius (seed: 3)")
    parser.add_argument("--out", default=os.path.join("out", "raster_demo.png"))
    args = parser.parse_args()

    start = time.perf_counter()
    result = run(args.index, args.steps, args.seed, args.backend, args.threshold, args.k,
                 args.radius)
    title = (f"MNIST test digit #{args.index} (label {result['label']}), T = {args.steps}, "
             f"seed {args.seed}, backend {args.backend}")
    save_plot(result, args.out, title)
    print(f"input spikes: {result['input'].count:,}   S1 spikes: {result['s1'].count:,}   "
          f"winners (c, y, x): {result['winners'].tolist()}")
    print(f"raster plot saved to {os.path.abspath(args.out)}  "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
