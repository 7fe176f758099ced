"""Benchmark snnTorch models imported onto the core against snnTorch stepping the same model.

Usage::

    python benchmarks/bench_import.py [--quick] [--threads N] [--out DIR]

Writes ``DIR/bench_import.json`` and ``DIR/bench_import.md`` (default DIR: bench-results). CPU.

Models of the kind snnTorch's tutorials train, randomly initialised (the work per step does not
depend on training; the spike counts do):

- ``mlp``: ``Linear(784, 1000) -> Leaky -> Linear(1000, 10) -> Leaky`` (tutorial 5);
- ``conv``: ``Conv2d(1, 12, 5) -> MaxPool2d(2) -> Leaky -> Conv2d(12, 64, 5) -> MaxPool2d(2) ->
  Leaky -> Flatten -> Linear(1024, 10) -> Leaky`` (tutorial 6);

each with snnTorch's default ``reset_mechanism="subtract"`` and with ``"zero"``, β = 0.95,
threshold 1, the weights PyTorch's default initialisation times :data:`WEIGHT_GAIN`. Ours:
:func:`spikedefense.convert.from_snntorch` then ``ImportedNetwork.run`` on the input spikes
(NumPy uint8 ``[T, B, 1, 28, 28]``, every layer's spikes returned); peer: the snnTorch model
called once per step under ``torch.inference_mode`` on the same spikes (a float32 tensor, the
library's native input), its states reset first. Bernoulli input at each rate, the same array
for both; the last layer's spikes are compared bit for bit.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from bench_common import (  # noqa: E402
    format_seconds,
    provenance,
    ratios,
    record_end_state,
    time_interleaved,
    write_report,
)

SEED = 20240531
DEFAULT_OUT = "bench-results"
SIZES = {"full": {"batches": [1, 32], "rates": [0.02, 0.2], "steps": 100, "repeats": 5},
         "quick": {"batches": [2], "rates": [0.2], "steps": 20, "repeats": 1}}  # fmt: skip
RESETS = ("subtract", "zero")
#: PyTorch's default initialisation times this, so that every layer spikes (as trained ones do).
WEIGHT_GAIN = 4.0


def build(kind: str, reset: str) -> torch.nn.Sequential:
    import snntorch
    from torch import nn

    def leaky() -> Any:
        return snntorch.Leaky(beta=0.95, init_hidden=True, reset_mechanism=reset)

    torch.manual_seed(SEED)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 1000), leaky(), nn.Linear(1000, 10),
                              leaky())  # fmt: skip
    else:
        model = nn.Sequential(nn.Conv2d(1, 12, 5), nn.MaxPool2d(2), leaky(), nn.Conv2d(12, 64, 5),
                              nn.MaxPool2d(2), leaky(), nn.Flatten(), nn.Linear(64 * 4 * 4, 10),
                              leaky())  # fmt: skip
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(WEIGHT_GAIN)
    return model.eval()


def step_snntorch(model: torch.nn.Sequential, frames: torch.Tensor) -> torch.Tensor:
    """snnTorch's way: reset the hidden states, call the model once per step."""
    from snntorch import utils

    utils.reset(model)
    with torch.inference_mode():
        return torch.stack([model(frame) for frame in frames])


def workload(cfg: dict[str, Any]) -> dict[str, Any]:
    from spikedefense.convert import from_snntorch

    rng = np.random.default_rng(SEED)
    cases = []
    for kind in ("mlp", "conv"):
        for reset in RESETS:
            model = build(kind, reset)
            net = from_snntorch(model, input_shape=(1, 28, 28))
            for batch in cfg["batches"]:
                for rate in cfg["rates"]:
                    spikes = (rng.random((cfg["steps"], batch, 1, 28, 28)) < rate).astype(np.uint8)
                    frames = torch.from_numpy(spikes).float()
                    impls = {"ours": lambda n=net, s=spikes: n.run(s),
                             "snntorch": lambda m=model, f=frames: step_snntorch(m, f)}  # fmt: skip
                    stats = time_interleaved(impls, cfg["repeats"])
                    ours = np.asarray(net.run(spikes).output).astype(bool)
                    peer = step_snntorch(model, frames).numpy().astype(bool)
                    cases.append({
                        "label": f"{kind} reset={reset} batch={batch} rate={rate:.0%} "
                                 f"T={cfg['steps']}",
                        "implementations": stats, "ratios": ratios(stats),
                        "checks": {"output_spikes": int(peer.sum()),
                                   "mismatched_output_spikes": int((ours != peer).sum())},
                    })  # fmt: skip
    return {"title": "imported snnTorch models: the core vs snnTorch stepping them, CPU",
            "sizes": cfg, "cases": cases}


def markdown(report: dict[str, Any]) -> str:
    work = report["work"]
    lines = [f"# Imported snnTorch models on the core ({report['date']})", "",
             f"- command: `{report['command']}`; torch threads {report['threads']}, numba "
             f"threads {report['threads']}",
             f"- load average at start {report['machine']['load_average_at_start']} (a shared "
             "machine: ratios are measured side by side in one run)", "",
             "| case | ours | snntorch | snntorch/ours | output spikes (mismatched) |",
             "|---|---:|---:|---:|---|"]  # fmt: skip
    for case in work["cases"]:
        impl, checks = case["implementations"], case["checks"]
        lines.append(f"| {case['label']} | {format_seconds(impl['ours']['median_s'])} | "
                     f"{format_seconds(impl['snntorch']['median_s'])} | "
                     f"{case['ratios']['snntorch/ours']:.2f}x | {checks['output_spikes']} "
                     f"({checks['mismatched_output_spikes']}) |")  # fmt: skip
    lines += ["", "- ours: from_snntorch(model) then ImportedNetwork.run(spikes) (every layer's "
              "spikes recorded); snntorch: the model called once per step under inference_mode "
              "after utils.reset; the same Bernoulli input spikes for both", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and numba threads (default: %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    import numba

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    report = provenance("cpu", args.quick)
    report["threads"] = args.threads
    report["work"] = workload(SIZES["quick" if args.quick else "full"])
    record_end_state(report)
    write_report(report, markdown(report), args.out, "bench_import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
