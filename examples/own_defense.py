"""Evaluate your own defense: wrap a PyTorch module (and an optional surrogate) and run the
harness on it. Tiny sizes, so that it runs in seconds on the embedded MNIST subset.

    python examples/own_defense.py --out own-defense
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from spikedefense.attacks import BPDA
from spikedefense.data import load_dataset
from spikedefense.defenses import ClassifierDefense
from spikedefense.evaluation import EvaluationConfig, evaluate_defenses, publish
from spikedefense.models import train_classifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="own-defense")
    args = parser.parse_args()
    x, y = load_dataset("embedded", "train")
    x_test, y_test = load_dataset("embedded", "test")

    # Your model: here a tiny MLP behind a quantisation of the input (not differentiable).
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    train_classifier(mlp, x[:2000], y[:2000], epochs=1, progress=False)

    def quantise(z: torch.Tensor) -> torch.Tensor:
        return torch.round(z * 4) / 4

    class Quantise(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return quantise(z) + 0 * z  # the true gradient: zero

    defense = ClassifierDefense(
        nn.Sequential(Quantise(), mlp), "quantised-mlp", "my lab notebook",
        surrogate=nn.Sequential(BPDA(quantise), mlp),  # identity gradient through the rounding
        surrogate_name="BPDA: identity gradient through the rounding",
    )
    config = EvaluationConfig(
        "embedded", epsilon=0.3, n_attack=50, n_sweep=20, sweep_steps=5,
        graybox_attacks=("fgsm", "pgd"), adaptive_attacks=("pgd",), query_attacks=(),
        attack_overrides={"pgd": {"steps": 10}}, substitute=None,
        sweep_epsilons=(0.1, 0.3, 1.0), command="python examples/own_defense.py",
    )
    result = evaluate_defenses([defense], x_test, y_test, config, progress=False)
    publish(args.out, result.whitebox, result.blackbox, result.sweep, dataset="embedded",
            epsilon=0.3, command=config.command)
    for r in result.whitebox:
        if r.attack in ("none", "worst-case"):
            print(f"{r.defense:14s} {r.attack:10s} {r.threat_model:19s} {r.accuracy:6.1f} % "
                  f"(n={r.n})")


if __name__ == "__main__":
    main()
