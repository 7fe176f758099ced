"""Spiking DIM against the ANN DIM: conversion error of one internal model, accuracy and speed
against T.

Loads the DIM trained by ``spikedefense dim-table`` / ``evaluate --defense dim`` from its work
folder, converts it as the ``spiking-dim`` defense does (1,000 training images calibrate), and
writes ``OUT/conversion.{json,md}`` (MSE of the converted internal model of class ``--model``
against its ANN output on denoised test images, for each T) and ``OUT/accuracy.{json,md}``
(accuracy of the spiking DIM for each T beside the ANN's on ``--n`` stratified test images,
images/s of inference on this machine, cpu backend), with the command.

    python scripts/dim_spiking.py --work ../calib --dataset mnist --out results/dim/mnist/spiking
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _md_conversion(rows: list[dict], model: int, n: int, command: str) -> str:
    lines = [f"# Converted internal model F_{model} against its ANN ({n} denoised test images)",
             "", "Bernoulli-encoded input, integrate-and-fire neurons (reset by subtraction), "
             "BatchNorm folded, 99.9th-percentile normalisation. MSE per pixel of the output "
             "rates (ANN units) against the ANN's output; relative = MSE / mean square output.",
             "", "| T | MSE | relative MSE |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {r['steps']} | {r['mse']:.3e} | {r['relative_mse']:.3e} |" for r in rows]
    return "\n".join([*lines, "", f"Command: `{command}`", ""])


def _md_accuracy(table: dict, command: str) -> str:
    ann = table["ann"]
    lines = [f"# Spiking DIM against the ANN DIM ({table['n']} stratified test images)", "",
             "Accuracy % [95 % Wilson]; images/s of inference on this machine (cpu backend, "
             f"{ann['threads']} threads).", "", "| model | T | accuracy | images/s |",
             "|---|---|---|---|",
             f"| ANN DIM | — | {ann['accuracy']:.1f} [{ann['interval'][0]:.1f}, "
             f"{ann['interval'][1]:.1f}] | {ann['images_per_s']:.0f} |"]  # fmt: skip
    for r in table["spiking"]:
        lines.append(f"| spiking DIM | {r['steps']} | {r['accuracy']:.1f} [{r['interval'][0]:.1f},"
                     f" {r['interval'][1]:.1f}] | {r['images_per_s']:.1f} |")  # fmt: skip
    return "\n".join([*lines, "", f"Command: `{command}`", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="work folder holding <dataset>/dim-seed0")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=1000, help="test images for accuracy")
    parser.add_argument("--n-conversion", type=int, default=32)
    parser.add_argument("--model", type=int, default=0, help="internal model for the MSE table")
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import torch

    from spikedefense._atomic import atomic_write_text
    from spikedefense.attacks import stratified_indices
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext
    from spikedefense.defenses.spiking_dim import trained_spiking_dim
    from spikedefense.evaluation.defense_run import _split
    from spikedefense.studies.dim_spiking import accuracy_table, output_error_table

    command = shlex.join(["python", *sys.argv])
    x, y = load_dataset(args.dataset, "train")
    tx, ty, vx, vy = _split(x, y, "reproduction", 0)
    context = BuildContext(args.dataset, (tx, ty), (vx, vy), Path(args.work) / args.dataset, 0,
                           None, True)  # fmt: skip
    spiking = trained_spiking_dim(context)
    dim = spiking.dim.eval()
    x_test, y_test = load_dataset(args.dataset, "test")
    keep = stratified_indices(y_test, args.n, seed=0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        denoised = dim.denoiser(x_test[keep][: args.n_conversion]).clamp(0, 1)
    rows = output_error_table(dim.internal.models[args.model], spiking.internal[args.model],
                              denoised, args.steps)  # fmt: skip
    atomic_write_text(out / "conversion.json", json.dumps({"rows": rows, "command": command,
                                                           "model": args.model}, indent=1))
    atomic_write_text(out / "conversion.md", _md_conversion(rows, args.model, len(denoised),
                                                             command))  # fmt: skip
    table = accuracy_table(dim, spiking, x_test[keep], y_test[keep], args.steps)
    atomic_write_text(out / "accuracy.json", json.dumps({**table, "command": command}, indent=1))
    atomic_write_text(out / "accuracy.md", _md_accuracy(table, command))
    print(out)


if __name__ == "__main__":
    main()
