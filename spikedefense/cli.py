"""The ``spikedefense`` command.

``spikedefense evaluate --dataset mnist --out results/mnist`` trains (or resumes) the target
classifiers and Defense-VAE, runs the attack protocol and writes the result tables; see
``spikedefense evaluate --help``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _evaluate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from dataclasses import replace

    from .evaluation.experiment import run_experiment
    from .evaluation.profiles import make_config

    command = shlex.join(["spikedefense", *argv])
    work = args.work or f"{args.out}/.work"
    changes = {"data_dir": args.data_dir}
    if args.classifiers:
        changes["classifiers"] = tuple(args.classifiers)
    config = make_config(args.profile, args.dataset, args.out, work, seed=args.seed,
                         command=command, **changes)  # fmt: skip
    if args.n_attack is not None:
        config = replace(config, evaluation=replace(config.evaluation, n_attack=args.n_attack))
    paths = run_experiment(config, progress=not args.quiet)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .evaluation.render import render_results

    for kind, path in render_results(args.folder).items():
        print(f"{kind}: {path}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .evaluation.profiles import PROFILES
    from .models import CLASSIFIERS

    parser = argparse.ArgumentParser(prog="spikedefense", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="train, attack and evaluate; write robustness tables")
    ev.add_argument("--dataset", choices=DATASETS, default="embedded",
                    help="embedded (packaged MNIST subset; the seed publishes no numbers for it), "
                    "mnist or fashion-mnist (from --data-dir)")  # fmt: skip
    ev.add_argument("--data-dir", default=None, help="default: $SPIKEDEFENSE_DATA")
    ev.add_argument("--out", required=True, help="folder for the result files")
    ev.add_argument("--work", default=None, help="checkpoints and caches (default OUT/.work)")
    ev.add_argument("--profile", choices=PROFILES, default="reproduction")
    ev.add_argument("--classifiers", nargs="+", choices=sorted(CLASSIFIERS)[:3])
    ev.add_argument("--n-attack", type=_positive_int, default=None, help="attacked test images")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(run=_evaluate)
    report = sub.add_parser("report", help="rebuild a result folder's Markdown and plot")
    report.add_argument("folder", help="a folder written by spikedefense evaluate")
    report.set_defaults(run=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args, argv))
    except (FileNotFoundError, ValueError) as error:
        # Bad data paths, refused checkpoints, bad settings: a message, not a traceback.
        parser.exit(2, f"spikedefense {args.command}: error: {error}\n")


if __name__ == "__main__":
    raise SystemExit(main())
