"""Write ``hebbian_figures.npz`` and ``hebbian.png`` into a results folder of a finished
``spikedefense evaluate --defense hebbian`` run, from its checkpoints (the figures a run now
writes itself, for runs made before it did). The defense is rebuilt exactly as the run built it
(same split, seed and work folder: the layer is resumed, not retrained).

Usage::

    python scripts/hebbian_figures.py --dataset mnist --data-dir ../shared/data \\
        --work ../hebbian-work/mnist --out results/hebbian/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec
    from spikedefense.evaluation.defense_run import _split
    from spikedefense.evaluation.records import read_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--work", required=True, help="the --work folder of the run")
    parser.add_argument("--out", required=True, help="the run's results folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x, y = load_dataset(args.dataset, "train", args.data_dir)
    tx, ty, vx, vy = _split(x, y, "reproduction", args.seed)
    context = BuildContext(args.dataset, (tx, ty), (vx, vy), Path(args.work) / args.dataset,
                           args.seed, None, True)  # fmt: skip
    spec = defense_spec("hebbian")
    defense = spec.build(context)
    x_test, y_test = load_dataset(args.dataset, "test", args.data_dir)
    records = read_json(Path(args.out) / "whitebox.json")
    for kind, path in spec.figures(defense, Path(args.out), records, x_test, y_test).items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
