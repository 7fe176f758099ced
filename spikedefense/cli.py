"""The ``spikedefense`` command.

``spikedefense evaluate --dataset mnist --out results/mnist`` trains (or resumes) the target
classifiers and Defense-VAE, runs the attack protocol and writes the result tables; see
``spikedefense evaluate --help``.

``spikedefense plot {raster,weights,reconstructions,curves} INPUT --out PNG`` draws a spike-record
file (:func:`spikedefense.snn.save_records`), a weights or reconstructions file
(:mod:`spikedefense.viz.files`) or a result folder's ε curves; see ``spikedefense plot --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _evaluate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from dataclasses import replace

    from .studies.experiment import run_experiment
    from .studies.profiles import make_config

    command = shlex.join(["spikedefense", *argv])
    _check_out(args.out, create=False)
    work = args.work or f"{args.out}/.work"
    sleep_only = [flag for flag, value in (("--sleep-seeds", args.sleep_seeds),
                                           ("--n-sleep", args.n_sleep),
                                           ("--figures-only", args.figures_only or None))
                  if value is not None]  # fmt: skip
    if sleep_only and not args.sleep:
        raise ValueError(f"{', '.join(sleep_only)}: only with --sleep")
    if args.sleep_seeds and len(set(args.sleep_seeds)) < len(args.sleep_seeds):
        seeds = " ".join(map(str, args.sleep_seeds))
        raise ValueError(f"--sleep-seeds: expected each seed once, got {seeds}")
    missing = args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir()
    if missing and args.dataset != "embedded":
        raise ValueError(f"--data-dir: {args.data_dir} is not a folder (it should hold mnist/ "
                         "and fashion-mnist/ with the IDX .gz files)")
    if args.defense is not None:
        return _evaluate_defenses(args, command, work)
    if args.executor != "local" or args.ray_address is not None:
        raise ValueError("--executor / --ray-address: the Defense-VAE experiment runs in this "
                         "process; they apply with --defense NAME[,NAME...]")  # fmt: skip
    changes = {"data_dir": args.data_dir}
    if args.classifiers:
        changes["classifiers"] = tuple(args.classifiers)
    if args.sleep:
        return _evaluate_sleep(args, command, work, changes)
    config = make_config(args.profile, args.dataset, args.out, work, seed=args.seed,
                         command=command, **changes)  # fmt: skip
    if args.n_attack is not None:
        config = replace(config, evaluation=replace(config.evaluation, n_attack=args.n_attack))
    _check_out(args.out)
    paths = run_experiment(config, progress=not args.quiet)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _check_out(out: str, *, create: bool = True) -> None:
    """``--out`` must be a folder this process can create and write: checked at once, and
    created (which proves it) once every other option has been checked, before any work."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {out} is a file; give a folder for the result files")
    parent = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot create or write {out} ({parent} is not a writable folder)")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"--out: cannot create {out} ({error.strerror})") from None


def _pairs_available(experiment: Any) -> int:
    """How many adversarial training images the Defense-VAE pairs of ``experiment`` hold:
    per clean image, the clean pair and FGSM / RAND+FGSM at each ε, plus CW at each ε on the
    first ``cw_limit``."""
    sizes = {"embedded": 5000, "mnist": 60_000, "fashion-mnist": 60_000}
    n = min(experiment.pair_limit, experiment.train_limit or sizes[experiment.evaluation.dataset])
    eps = len(experiment.pair_epsilons)
    cw = n if experiment.cw_limit is None else min(experiment.cw_limit, n)
    return n * (1 + 2 * eps) + cw * eps


def _defense_names(text: str) -> list[str]:
    from .defenses import defense_spec

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or len(set(names)) < len(names):
        raise ValueError(f"--defense: expected distinct names separated by commas, got {text!r}")
    for name in names:
        try:
            defense_spec(name)
        except ValueError as error:
            raise ValueError(f"--defense: {error}") from None
    return names


def _evaluate_defenses(args: argparse.Namespace, command: str, work: str) -> int:
    from .evaluation.defense_run import DEFENSE_PROFILES, run_defenses

    names = _defense_names(args.defense)
    from .defenses import defense_spec

    experiments = {defense_spec(n).pipeline for n in names} - {"harness"}
    if experiments:  # Defense-VAE and its sleep are experiments of their own
        if len(names) > 1:
            raise ValueError(f"--defense: {', '.join(names)}: the Defense-VAE variants run as "
                             "their own experiment (C1-C3); give one of them alone")  # fmt: skip
        args.defense = None
        args.sleep = args.sleep or "sleep-experiment" in experiments
        return _evaluate(args, args.argv)
    clashing = [flag for flag, value in (("--sleep", args.sleep), ("--classifiers",
                args.classifiers), ("--n-attack", args.n_attack)) if value]  # fmt: skip
    if clashing:
        raise ValueError(f"{', '.join(clashing)}: not with --defense {args.defense}")
    if args.profile not in DEFENSE_PROFILES:
        raise ValueError(f"--profile: with --defense expected one of "
                         f"{', '.join(DEFENSE_PROFILES)}, got {args.profile!r}")  # fmt: skip
    with _executor(args) as executor:  # a bad executor setting fails before --out is made
        _check_out(args.out)
        paths = run_defenses(names, args.dataset, args.profile, args.out, work,
                             data_dir=args.data_dir, seed=args.seed, command=command,
                             progress=not args.quiet, executor=executor)  # fmt: skip
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _defenses(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .defenses import defense_spec, registered_defenses

    for name in registered_defenses():
        spec = defense_spec(name)
        print(f"{name:20s} {spec.kind:10s} {spec.summary}\n{'':31s} source: {spec.source}")
    return 0


def _evaluate_sleep(args: argparse.Namespace, command: str, work: str,
                    changes: dict[str, Any]) -> int:
    from dataclasses import replace

    from .studies.profiles import SLEEP_PROFILES, make_sleep_config
    from .studies.sleep_experiment import run_sleep_experiment

    if args.profile not in SLEEP_PROFILES:
        raise ValueError(f"--profile: with --sleep expected one of {', '.join(SLEEP_PROFILES)}, "
                         f"got {args.profile!r}")
    config = make_sleep_config(args.profile, args.dataset, args.out, work, seed=args.seed,
                               command=command)
    experiment = replace(config.experiment, **changes)
    if args.n_attack is not None:
        experiment = replace(experiment,
                             evaluation=replace(experiment.evaluation, n_attack=args.n_attack))
    config = replace(config, experiment=experiment)
    if args.sleep_seeds:
        config = replace(config, sleep_seeds=tuple(args.sleep_seeds))
    if args.n_sleep is not None:
        available = _pairs_available(config.experiment)
        if args.n_sleep > available:
            raise ValueError(f"--n-sleep: {args.n_sleep} images asked for, but the profile "
                             f"{args.profile!r} crafts {available} adversarial training images "
                             "to sleep on")  # fmt: skip
        config = replace(config, n_sleep=args.n_sleep)
    if args.figures_only:
        from .studies.sleep_experiment import write_sleep_figures

        if not any(Path(work).glob("sleep-*-s*-*.json")):  # the sleep checkpoints it needs
            raise ValueError(f"--figures-only: no sleep checkpoints in {work} (--work); run "
                             "without --figures-only first")

        write_sleep_figures(config, progress=not args.quiet)
        print(f"figures: {args.out}")
        return 0
    _check_out(args.out)
    for kind, path in run_sleep_experiment(config, progress=not args.quiet).items():
        print(f"{kind}: {path}")
    return 0


def _demo(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .demo import run_demo

    paths = run_demo(args.out, quick=args.quick, seed=args.seed, backend=args.backend,
                     command=shlex.join(["spikedefense", *argv]), progress=not args.quiet)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    print(f"\nreport: {paths['report.md']}")
    return 0


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .studies.render import render_folder

    for kind, path in render_folder(args.folder).items():
        print(f"{kind}: {path}")
    return 0


def _plot_figure(args: argparse.Namespace) -> Any:
    """Draw ``args.input`` as ``args.kind`` says; returns the matplotlib Figure."""
    if args.kind == "raster":
        from .snn.record import load_records
        from .viz.raster import raster_plot

        records, winners = load_records(args.input)
        return raster_plot(records, winners=winners, title=args.title).figure
    if args.kind == "weights":
        from .viz.files import load_weights_npz
        from .viz.weights import plot_weight_histograms

        before, after = load_weights_npz(args.input)
        axes = plot_weight_histograms(before, after, bins=args.bins, title=args.title)
        return axes[0].figure
    if args.kind == "reconstructions":
        from .viz.files import load_reconstructions_npz
        from .viz.images import plot_reconstruction_grid

        rows = load_reconstructions_npz(args.input)
        return plot_reconstruction_grid(rows, n=args.n, title=args.title).figure
    if args.kind == "hebbian":
        return _hebbian_figure(args.input, args.title)
    return _curves_figure(args.input, args.title)


def _hebbian_figure(folder: str, title: str | None) -> Any:
    """``RESULTS_DIR/hebbian_figures.npz`` with the folder's document-protocol records."""
    from .evaluation.records import read_json
    from .viz.hebbian import load_hebbian_npz, plot_hebbian

    data_file = Path(folder, "hebbian_figures.npz")
    if not data_file.is_file():
        raise FileNotFoundError(2, f"no hebbian_figures.npz in {folder}; spikedefense evaluate "
                                "--defense hebbian writes one", str(data_file))  # fmt: skip
    table = Path(folder, "whitebox.json")
    records = [r for r in read_json(table) if r.defense == "hebbian"] if table.is_file() else []
    return plot_hebbian(load_hebbian_npz(data_file), records, title=title)


def _curves_figure(folder: str, title: str | None) -> Any:
    """The ε curves of a result folder, one panel per classifier, as ``spikedefense report``."""
    import matplotlib.pyplot as plt

    from .evaluation.records import read_json
    from .viz.curves import plot_accuracy_vs_epsilon

    if Path(folder).is_file():
        raise ValueError(f"RESULTS_DIR: {folder} is a file; give the folder that holds it")
    # Only the ε sweep makes curves: a white-box table has one ε per attack.
    sweep = Path(folder, "sweep.json")
    if not sweep.is_file():
        table = Path(folder, "whitebox.json").is_file()
        single = " (its one-ε numbers are in whitebox.md)" if table else ""
        raise FileNotFoundError(2, f"no ε sweep (sweep.json) in {folder}{single}; spikedefense "
                                "evaluate and demo write one")  # fmt: skip
    records = read_json(sweep)
    if not records:
        raise ValueError(f"{sweep} holds no records")
    names = sorted({r.classifier for r in records})
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False,
                             constrained_layout=True)  # fmt: skip
    for ax, name in zip(axes[0], names, strict=True):
        plot_accuracy_vs_epsilon(records, ax=ax, classifier=name,
                                 title=f"{records[0].dataset} {name}")  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig


def _plot(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import matplotlib.pyplot as plt

    from .viz.curves import save_figure

    if Path(args.out).is_dir():
        raise ValueError(f"--out: {args.out} is a folder; give a file name such as plot.png")
    fig = _plot_figure(args)
    try:
        print(f"{args.kind}: {save_figure(fig, args.out)}")
    finally:
        plt.close(fig)
    return 0


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "positive")


def _nonneg_int(text: str) -> int:
    return _int_at_least(text, 0, "non-negative")


#: Seeds are combined with epochs and image indices into 64-bit generator seeds: stay in 32 bits.
MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    value = _int_at_least(text, 0, "non-negative")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, {MAX_SEED}], got {value}")
    return value


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """The executor of ``--executor`` / ``--ray-address``, closed afterwards."""
    from .evaluation.executor import make_executor

    executor = make_executor(args.executor, args.ray_address)
    try:
        yield executor
    finally:
        executor.close()


def _add_study_options(parser: argparse.ArgumentParser, dataset: str, report: str,
                       datasets: Sequence[str] | None = None) -> None:  # fmt: skip
    """The options every study over registered defenses shares (and the executor's);
    ``--dataset`` one of ``datasets`` (default: the IDX datasets)."""
    from .data import DATASETS

    parser.add_argument("--dataset", choices=datasets or DATASETS, default=dataset)
    parser.add_argument("--data-dir", default=None, help="default: $SPIKEDEFENSE_DATA")
    parser.add_argument("--out", required=True, help=f"folder for records and {report}")
    parser.add_argument("--work", default=None, help="checkpoints (default OUT/.work)")
    parser.add_argument("--n", type=_positive_int, default=1000,
                        help="stratified test images (default: 1000)")
    parser.add_argument("--tiny", action="store_true", help="one-epoch models (smoke test)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report of the units finished so far; run nothing")
    parser.add_argument("--seed", type=_seed, default=0, help=f"in [0, {MAX_SEED}] (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_executor_options(parser)


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where the attack units run (default: this process; ray: a Ray "
                        "cluster, pip install \"spikedefense[distributed]\")")  # fmt: skip
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="with --executor ray: an existing cluster (host:port or auto); "
                        "default: a local cluster for this run")  # fmt: skip


def _dim_table(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .studies.dim_report import dim_table_study

    names = [n.strip() for n in args.defenses.split(",") if n.strip()]
    work = args.work or str(Path(args.out) / ".work")
    with _executor(args) as executor:
        paths = dim_table_study(names, args.dataset, args.out, work, data_dir=args.data_dir,
                                n=args.n, subset=args.subset, seed=args.seed,
                                command=shlex.join(["spikedefense", *argv]),
                                progress=not args.quiet, tiny=args.tiny,
                                report_only=args.report_only, executor=executor)  # fmt: skip
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .defenses import defense_spec, registered_defenses
    from .evaluation.compare import compare

    if args.defenses:
        names = [n.strip() for n in args.defenses.split(",") if n.strip()]
    else:
        names = [n for n in registered_defenses() if defense_spec(n).build is not None]
    work = args.work or str(Path(args.out) / ".work")
    with _executor(args) as executor:
        paths = compare(names, args.dataset, args.out, work, data_dir=args.data_dir, n=args.n,
                        seed=args.seed, command=shlex.join(["spikedefense", *argv]),
                        progress=not args.quiet, tiny=args.tiny, executor=executor,
                        report_only=args.report_only, profile=args.profile)  # fmt: skip
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _memory_table(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .studies.memory_study import memory_study

    work = args.work or str(Path(args.out) / ".work")
    with _executor(args) as executor:
        paths = memory_study(args.dataset, args.out, work, data_dir=args.data_dir, n=args.n,
                             seed=args.seed, command=shlex.join(["spikedefense", *argv]),
                             progress=not args.quiet, tiny=args.tiny,
                             report_only=args.report_only, executor=executor)  # fmt: skip
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS, TENSOR_DATASETS
    from .models import CLASSIFIERS
    from .studies.profiles import PROFILES, SLEEP_PROFILES

    parser = argparse.ArgumentParser(prog="spikedefense", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="train, attack and evaluate; write robustness tables")
    ev.add_argument("--dataset", choices=DATASETS, default="embedded",
                    help="embedded (the default: packaged MNIST subset; the seed paper publishes "
                    "no numbers for it), mnist or fashion-mnist (from --data-dir)")  # fmt: skip
    ev.add_argument("--data-dir", default=None, help="default: $SPIKEDEFENSE_DATA")
    ev.add_argument("--out", required=True, help="folder for the result files")
    ev.add_argument("--work", default=None, help="checkpoints and caches (default OUT/.work)")
    ev.add_argument("--profile", choices=sorted(set(PROFILES) | set(SLEEP_PROFILES)),
                    default="reproduction", help="run size (default: reproduction, the full "
                    "protocol: hours on a CPU; tiny: minutes); with --sleep: tiny, quick, demo "
                    "or reproduction")  # fmt: skip
    ev.add_argument("--sleep", action="store_true",
                    help="also sleep each Defense-VAE (Defense-VAE-Sleep) and compare")
    ev.add_argument("--sleep-seeds", type=_seed, nargs="+", default=None,
                    help="with --sleep: the sleep seeds, each once (default: the profile's)")
    ev.add_argument("--n-sleep", type=_positive_int, default=None,
                    help="with --sleep: images each VAE sleeps on (default: the profile's)")
    ev.add_argument("--figures-only", action="store_true",
                    help="with --sleep: redraw the figures of a finished run from its checkpoints")
    ev.add_argument("--defense", default=None, metavar="NAME[,NAME...]",
                    help="registered defenses to evaluate (spikedefense defenses lists them); "
                    "without it: the Defense-VAE experiment")  # fmt: skip
    ev.add_argument("--classifiers", nargs="+", choices=sorted(CLASSIFIERS)[:3])
    ev.add_argument("--n-attack", type=_positive_int, default=None,
                    help="attacked test images (default: the profile's)")
    ev.add_argument("--seed", type=_seed, default=0, help=f"in [0, {MAX_SEED}] (default: 0)")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_executor_options(ev)
    ev.set_defaults(run=_evaluate)
    table = sub.add_parser("dim-table", help="the DIM document's Table 1 (foolbox attacks per "
                           "norm, all-attacks worst case, minimal accuracy) for registered "
                           "defenses; resumable")  # fmt: skip
    table.add_argument("--defenses", default="cnn,bicnn,adv-train,dim,bidim,spiking-dim",
                       metavar="NAME[,NAME...]", help="default: the document's comparison")
    table.add_argument("--subset", type=_positive_int, default=200,
                       help="of the --n images, for the expensive rows (default: 200)")
    _add_study_options(table, "mnist", "table1.md")
    table.set_defaults(run=_dim_table)
    memory = sub.add_parser("memory-table", help="Memory Defense under the document's protocol, "
                            "gray-box and adaptive attacks, its ablation and detector; resumable")
    _add_study_options(memory, "fashion-mnist", "memory.md", TENSOR_DATASETS)
    memory.set_defaults(run=_memory_table)
    comp = sub.add_parser("compare", help="every registered defense under one protocol "
                          "(document's attacks, adaptive, queries); a leaderboard; resumable")
    comp.add_argument("--defenses", default=None, metavar="NAME[,NAME...]",
                      help="default: every registered defense that builds by name")
    _add_study_options(comp, "mnist", "leaderboard.md")
    comp.add_argument("--profile", choices=("full", "demo", "tiny"), default=None,
                      help="size of the builds and attacks: full (default), demo (small "
                      "models, minutes), tiny (the same as --tiny)")  # fmt: skip
    comp.set_defaults(run=_compare)
    listing = sub.add_parser("defenses", help="list the registered defenses and their sources")
    listing.set_defaults(run=_defenses)
    demo = sub.add_parser("demo", help="train, attack, sleep and evaluate on the embedded "
                          "MNIST subset; write a report folder")
    demo.add_argument("--quick", action="store_true", help="smoke-test size (under 2 minutes)")
    demo.add_argument("--out", default="spikedefense-demo",
                      help="the report folder (default: spikedefense-demo)")
    demo.add_argument("--seed", type=_seed, default=0, help=f"in [0, {MAX_SEED}] (default: 0)")
    demo.add_argument("--backend", choices=("cpu", "cuda"), default="cpu",
                      help="where the sleep phase runs")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)
    report = sub.add_parser("report", help="rebuild a result folder's Markdown and plot")
    report.add_argument("folder", help="a folder written by spikedefense evaluate")
    report.set_defaults(run=_report)
    plot = sub.add_parser("plot", help="draw a spike, weight, reconstruction or result file")
    kinds = plot.add_subparsers(dest="kind", required=True)
    for kind, source, help_text in (
        ("raster", "SPIKES.npz", "spike records (spikedefense.snn.save_records) as a raster"),
        ("weights", "WEIGHTS.npz", "before/<layer>, after/<layer> weights as histograms"),
        ("reconstructions", "RECON.npz", "one image row per key, in the file's order"),
        ("curves", "RESULTS_DIR", "a result folder's accuracy against ε, per classifier"),
        ("hebbian", "RESULTS_DIR", "a Hebbian run's receptive fields, one image's super-active "
         "units, W2, and accuracy against ε (document protocol vs adaptive)"),
    ):
        one = kinds.add_parser(kind, help=help_text, description=help_text)
        one.add_argument("input", metavar=source)
        one.add_argument("--out", required=True, help="the figure file (format from the suffix)")
        one.add_argument("--title", default=None)
        if kind == "weights":
            one.add_argument("--bins", type=_positive_int, default=100, help="default: 100")
        if kind == "reconstructions":
            one.add_argument("--n", type=_positive_int, default=8,
                             help="images per row (default: 8)")
        one.set_defaults(run=_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    from spikedefense.kernels.dispatch import BackendUnavailableError

    try:
        return int(args.run(args, argv))
    except (OSError, ValueError, BackendUnavailableError) as error:
        # Bad data paths, unwritable output folders, refused checkpoints, bad settings or files,
        # a backend that cannot run here: a message, not a traceback.
        parser.exit(2, f"spikedefense {args.command}: error: {_message(error)}\n")


def _message(error: Exception) -> str:
    """``error`` as one line: an OSError's own text and path without the ``[Errno N]`` prefix."""
    if isinstance(error, OSError) and error.strerror:
        name = error.filename
        return error.strerror if name is None or str(name) in error.strerror else (
            f"{error.strerror}: {name}")
    return str(error)


if __name__ == "__main__":
    raise SystemExit(main())
