"""Benchmark spiking DIM inference on the core against the plain PyTorch way of simulating it.

Usage::

    python benchmarks/bench_dim.py [--quick] [--work DIR] [--out DIR]

Writes ``DIR/bench_dim.json`` and ``DIR/bench_dim.md`` (default DIR: bench-results). CPU.

The spiking DIM (:class:`spikedefense.defenses.spiking_dim.SpikingDIM`): the denoiser and the
ten internal autoencoders converted with ``to_spiking``, each run for T steps on Bernoulli input.
Ours: :func:`spikedefense.snn.chain_run.simulate` (event-driven ``propagate_*`` + one
``lif_run`` per layer). Peer: the same converted layers simulated the way a PyTorch user would —
each layer's dense ``F.conv2d`` / ``F.conv_transpose2d`` / ``F.linear`` over all T frames at
once, then integrate-and-fire neurons stepped over T in torch. Both get the same input spikes
(our encoder, inside the timed call on both sides); the scores are compared. The ANN DIM's
forward pass is timed beside them. With ``--work`` the trained MNIST DIM of a ``dim-table`` run
is loaded (``WORK/mnist/dim-seed0/noise-*``); otherwise a randomly initialised one (the work per
image is the same; the spike counts differ).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402,N812
from bench_common import (  # noqa: E402
    provenance,
    ratios,
    record_end_state,
    time_interleaved,
    write_report,
)

SEED = 20240531
DEFAULT_OUT = "bench-results"
SIZES = {"full": {"batches": [1, 32], "steps": 32, "repeats": 5},
         "quick": {"batches": [2], "steps": 4, "repeats": 1}}  # fmt: skip


def load_dim(work: str | None) -> tuple[Any, str]:
    from spikedefense.models.dim import DIM, InternalModels, make_denoiser

    dim = DIM(make_denoiser(), InternalModels(10)).eval()
    if work is None:
        return dim, "randomly initialised"
    from spikedefense.models.checkpoint import load_checkpoint

    folders = sorted(Path(work, "mnist", "dim-seed0").glob("noise-*/dim-internal-best.json"))
    if not folders:
        raise SystemExit(f"--work: no trained DIM under {work}/mnist/dim-seed0")
    stem = folders[0].parent
    load_checkpoint(stem / "dim-denoiser-best", dim.denoiser)
    load_checkpoint(stem / "dim-internal-best", dim.internal)
    return dim.eval(), f"trained ({stem})"


def torch_simulate(layers: Any, synapses: Any, spikes: np.ndarray) -> torch.Tensor:
    """:func:`~spikedefense.snn.chain_run.simulate` written with dense torch ops (module
    docstring); the network's output value (or rate) ``[B, *out]``."""
    from spikedefense.snn.chain_run import _ACTIVATIONS, readout

    steps, batch = spikes.shape[:2]
    frames = torch.from_numpy(spikes).float()
    value = None
    with torch.inference_mode():
        for layer in layers:
            shape = tuple(layer.in_shape)
            if layer.spiking:
                core = synapses[layer.name]
                w, b = torch.from_numpy(core.weight), torch.from_numpy(core.bias)
                if value is None:
                    x = frames.reshape(steps * batch, *shape)
                    if core.kind == "linear":
                        cur = F.linear(x, w, b)
                    elif core.kind == "conv":
                        cur = F.conv2d(x, w, b, core.stride, core.padding)
                    else:
                        cur = F.conv_transpose2d(x, w, b, core.stride, core.padding)
                    cur = cur.reshape(steps, batch, *cur.shape[1:])
                else:
                    drive = readout(layer, value.reshape(batch, *shape),
                                    layer.weight * core.threshold, core.bias).float()
                    cur = drive.expand(steps, *drive.shape)
                v = torch.zeros_like(cur[0])
                out = torch.empty_like(cur)
                for t in range(steps):
                    v += cur[t]
                    fired = v >= core.threshold
                    out[t] = fired
                    v -= fired * core.threshold
                frames, value = out, None
                last = layer
            else:
                if value is None:
                    value = frames.double().mean(0)
                value = _ACTIVATIONS[layer.activation](readout(layer, value.reshape(batch,
                                                                                   *shape)))
    if value is not None:
        return value.float()
    return (frames.double().mean(0) * last.scale).float()


def workload(cfg: dict[str, Any], dim: Any) -> dict[str, Any]:
    from spikedefense.kernels import bernoulli_encode

    from spikedefense.data import load_dataset
    from spikedefense.defenses.spiking_dim import SpikingDIM
    from spikedefense.models.dim import relative_intensity
    from spikedefense.snn.chain_run import check_thresholds, simulate, spiking_layers

    x_train, _ = load_dataset("embedded", "train")
    x_test, _ = load_dataset("embedded", "test")
    spiking = SpikingDIM(dim, x_train[:500], steps=cfg["steps"], seed=SEED, backend="cpu")
    nets = [spiking.denoiser, *spiking.internal]
    synapses = [spiking_layers(n.layers, check_thresholds(n.layers, None)) for n in nets]
    steps = cfg["steps"]

    def pipeline(images: torch.Tensor, run: Any) -> torch.Tensor:
        def one(i: int, inputs: torch.Tensor) -> torch.Tensor:
            spikes = bernoulli_encode(inputs.numpy(), steps, seed=SEED + i, backend="cpu")
            return run(nets[i].layers, synapses[i], spikes).reshape(len(inputs), 1, 28, 28)

        d = one(0, images).clamp(0.0, 1.0)
        outputs = torch.stack([one(i, d) for i in range(1, len(nets))], dim=1)
        return relative_intensity(outputs, d)

    def ours_run(layers: Any, syn: Any, spikes: np.ndarray) -> torch.Tensor:
        sim = simulate(layers, syn, spikes, backend="cpu")
        if sim.value is not None:
            return sim.value.float()
        assert sim.spikes is not None
        scale = [layer for layer in layers if layer.spiking][-1].scale
        return torch.from_numpy(sim.spikes.mean(axis=0, dtype=np.float64) * scale).float()

    cases = []
    for batch in cfg["batches"]:
        images = x_test[:batch]
        impls = {"ours": lambda im=images: pipeline(im, ours_run),
                 "torch": lambda im=images: pipeline(im, torch_simulate),
                 "ann dim": lambda im=images: dim(im)}  # fmt: skip
        with torch.inference_mode():
            stats = time_interleaved(impls, cfg["repeats"])
            ours, peer = pipeline(images, ours_run), pipeline(images, torch_simulate)
        cases.append({"label": f"batch {batch}, T={steps}", "implementations": stats,
                      "ratios": ratios(stats),
                      "images_per_s": {k: batch / s["median_s"] for k, s in stats.items()},
                      "checks": {"max_abs_score_difference": float((ours - peer).abs().max()),
                                 "same_predictions": bool((ours.argmax(1) == peer.argmax(1))
                                                          .all())}})  # fmt: skip
    return {"title": "spiking DIM inference (denoiser + 10 internal models), CPU",
            "sizes": cfg, "cases": cases}


def markdown(report: dict[str, Any]) -> str:
    from bench_common import format_seconds

    work = report["work"]
    lines = [f"# Spiking DIM inference ({report['date']})", "",
             f"- command: `{report['command']}`; DIM {report['dim']}",
             f"- load average at start {report['machine']['load_average_at_start']} (a shared "
             "machine: ratios are measured side by side in one run)", "",
             "| case | implementation | median | images/s | torch/ours |",
             "|---|---|---:|---:|---:|"]
    for case in work["cases"]:
        for impl, s in case["implementations"].items():
            ratio = case["ratios"].get(f"{impl}/ours")
            lines.append(f"| {case['label']} | {impl} | {format_seconds(s['median_s'])} | "
                         f"{case['images_per_s'][impl]:.1f} | "
                         f"{'' if ratio is None else f'{ratio:.2f}x'} |")
    lines.append("")
    for case in work["cases"]:
        lines.append(f"- checks ({case['label']}): {case['checks']}")
    lines += ["", "- ours: simulate() (event-driven propagate_* + one lif_run per layer); torch: "
              "each layer's dense conv / linear over all T frames, IF neurons stepped over T in "
              "torch; both fed the same input spikes (our encoder, timed on both sides); ann dim: "
              "the ANN's forward pass", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--work", default=None, help="a dim-table --work folder (trained DIM)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.manual_seed(SEED)
    dim, what = load_dim(args.work)
    report = provenance("cpu", args.quick)
    report["dim"] = what
    report["work"] = workload(SIZES["quick" if args.quick else "full"], dim)
    record_end_state(report)
    write_report(report, markdown(report), args.out, "bench_dim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
