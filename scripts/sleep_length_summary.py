"""Tabulate runs of ``scripts/vae_seed_study.py --n-sleep N``: what a longer sleep does.

Usage::

    python scripts/sleep_length_summary.py --runs results/sleep-length --out results/sleep-length

``--runs`` holds ``<dataset>/n-sleep-<N>/`` run folders (``whitebox.json``, ``sleep_report.json``),
one Defense-VAE slept on N adversarial images. Per dataset and N: per classifier and attack, the
awake Defense-VAE's accuracy, the slept one's (mean ± population std over the sleep seeds) and
Δ = slept − awake; per layer, how much sleep widened the encoder weights (5-95 % width after /
before − 1, in %, mean over the sleep seeds), the mean |Δw| and the fraction of weights changed.
Writes ``summary.json``, ``summary.md`` and ``sleep_length.png`` (accuracy and weight widening
against N) into ``--out``.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

ROWS = (
    ("clean", "none", "none"),
    ("gray-box FGSM", "fgsm", "gray-box"),
    ("gray-box RAND+FGSM", "rand-fgsm", "gray-box"),
    ("adaptive PGD", "pgd", "white-box-adaptive"),
)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values)


def accuracy_rows(records: list[dict]) -> list[dict]:
    """Awake vs slept Defense-VAE (shared model only) per classifier and attack of one run."""
    rows = []
    for clf in sorted({r["classifier"] for r in records}):
        for label, attack, threat in ROWS:
            where = (clf, attack, threat)
            for n in sorted({r["n"] for r in records
                             if (r["classifier"], r["attack"], r["threat_model"]) == where}):
                row = _row(records, (*where, n), label)
                if row is not None:
                    rows.append(row)
    return rows


def _row(records: list[dict], where: tuple, label: str) -> dict | None:
    """The row of the records at ``where`` = (classifier, attack, threat model, n), if both
    the awake and the slept Defense-VAE have one."""
    clf, n = where[0], where[3]
    awake, slept = None, []
    for r in records:
        if (r["classifier"], r["attack"], r["threat_model"], r["n"]) != where:
            continue
        base = r["defense"].split("#")[0]
        if base == "defense-vae":
            awake = r["accuracy"]
        elif base == "defense-vae-sleep":
            slept.append(r["accuracy"])
    if awake is None or not slept:
        return None
    mean, std = _mean_std(slept)
    return {"classifier": clf, "row": label, "n": n, "awake": awake, "sleep_mean": mean,
            "sleep_std": std, "sleep_seeds": len(slept), "delta": mean - awake}


def _key(row: dict) -> tuple[str, str, int]:
    """What identifies an accuracy row: classifier, row label, number of test images."""
    return row["classifier"], row["row"], row["n"]


def weight_rows(report: dict) -> list[dict]:
    """Per encoder layer, mean over the shared Defense-VAE's sleep seeds."""
    slept = [r for key, r in report.items() if key.split("#")[0] == "defense-vae"]
    rows = []
    for name in slept[0]["layers"] if slept else ():
        layers = [r["layers"][name] for r in slept]
        growth = [100 * (L["spread_after"]["width"] / L["spread_before"]["width"] - 1)
                  for L in layers]  # fmt: skip
        rows.append({
            "layer": name,
            "width_growth_percent": statistics.fmean(growth),
            "mean_abs_change": statistics.fmean(L["weight_change"]["mean_abs"] for L in layers),
            "fraction_changed": statistics.fmean(
                L["weight_change"]["fraction_changed"] for L in layers),
            "spikes": statistics.fmean(L["spikes"] for L in layers),
        })  # fmt: skip
    return rows


def summarise(runs: Path) -> list[dict]:
    out = []
    for dataset_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        lengths = {}
        for run in dataset_dir.iterdir():
            match = re.fullmatch(r"n-sleep-(\d+)", run.name)
            if match and (run / "whitebox.json").is_file():
                lengths[int(match.group(1))] = run
        awake: dict[tuple[str, str, int], float] = {}
        for n_sleep in sorted(lengths):
            run = lengths[n_sleep]
            report = json.loads((run / "sleep_report.json").read_text())
            accuracy = accuracy_rows(json.loads((run / "whitebox.json").read_text()))
            for a in accuracy:  # every N must start from the same awake model
                seen = awake.setdefault(_key(a), a["awake"])
                if seen != a["awake"]:
                    raise ValueError(
                        f"{run}: awake Defense-VAE {a['classifier']} {a['row']} is "
                        f"{a['awake']}, another run of {dataset_dir.name} has {seen}: the runs "
                        "must share one awake model"
                    )
            out.append({
                "dataset": dataset_dir.name, "n_sleep": n_sleep,
                "accuracy": accuracy,
                "weights": weight_rows(report),
                "sleep_seconds": statistics.fmean(
                    r["seconds"] for k, r in report.items() if k.split("#")[0] == "defense-vae"),
            })  # fmt: skip
    return out


def _cell(a: dict | None) -> str:
    if a is None:
        return "-"
    return f"{a['delta']:+.2f} ({a['sleep_mean']:.2f} ± {a['sleep_std']:.2f})"


def markdown(runs: list[dict], command: str) -> str:
    lines = ["# A longer sleep", "", f"- command: `{command}`",
             "- accuracy %; sleep = mean ± population std over the sleep seeds; Δ = sleep − "
             "awake Defense-VAE (the same awake model for every N)", ""]  # fmt: skip
    for dataset in sorted({r["dataset"] for r in runs}):
        mine = [r for r in runs if r["dataset"] == dataset]
        lengths = [r["n_sleep"] for r in mine]
        lines += [f"## {dataset}", "", "Δ (points) by the number of images slept on:", "",
                  "| clf | row | n | awake | " + " | ".join(f"N = {n}" for n in lengths) + " |",
                  "|---|---|---:|---:|" + "---:|" * len(lengths)]  # fmt: skip
        by_run = [{_key(a): a for a in r["accuracy"]} for r in mine]
        for row in mine[0]["accuracy"]:
            key = _key(row)
            cells = [_cell(a.get(key)) for a in by_run]
            lines.append(f"| {row['classifier']} | {row['row']} | {row['n']} | "
                         f"{row['awake']:.2f} | " + " | ".join(cells) + " |")  # fmt: skip
        lines += ["", "Encoder weights after sleep (mean over the sleep seeds):", "",
                  "| N | sleep s | " + " | ".join(
                      f"{w['layer']} width +% / mean abs Δw / changed"
                      for w in mine[0]["weights"]) + " |",
                  "|---:|---:|" + "---|" * len(mine[0]["weights"])]  # fmt: skip
        for r in mine:
            cells = [f"{w['width_growth_percent']:+.2f} / {w['mean_abs_change']:.1e} / "
                     f"{w['fraction_changed']:.2f}" for w in r["weights"]]  # fmt: skip
            lines.append(f"| {r['n_sleep']} | {r['sleep_seconds']:.1f} | "
                         + " | ".join(cells) + " |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict], out: Path) -> Path:
    """``out/sleep_length.png``: per dataset, accuracy (clean and gray-box FGSM, per classifier;
    N = 0 is the awake model; bars: std over the sleep seeds) and each layer's weight widening
    against the number of images slept on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikedefense.viz.curves import save_figure

    datasets = sorted({r["dataset"] for r in runs})
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 7.5), squeeze=False)
    for col, dataset in enumerate(datasets):
        mine = sorted((r for r in runs if r["dataset"] == dataset), key=lambda r: r["n_sleep"])
        lengths = [0] + [r["n_sleep"] for r in mine]
        ax = axes[0, col]
        for (clf, label, n), style in _series(mine):
            cells = [next(a for a in r["accuracy"] if _key(a) == (clf, label, n)) for r in mine]
            ax.errorbar(lengths, [cells[0]["awake"]] + [a["sleep_mean"] for a in cells],
                        yerr=[0.0] + [a["sleep_std"] for a in cells], capsize=2,
                        label=f"{clf} {label} (n = {n})", **style)  # fmt: skip
        ax.axhline(10.0, color="0.6", lw=0.8, ls=":", label="chance")
        ax.set(xlabel="images slept on (N)", ylabel="accuracy %", ylim=(0, 100),
               title=f"{dataset}: Defense-VAE-Sleep")  # fmt: skip
        ax.legend(fontsize=7)
        ax = axes[1, col]
        for i, layer in enumerate(w["layer"] for w in mine[0]["weights"]):
            growth = [0.0] + [r["weights"][i]["width_growth_percent"] for r in mine]
            ax.plot(lengths, growth, marker="o", label=layer)
        ax.set(xlabel="images slept on (N)", ylabel="5-95 % weight width, + % vs awake",
               title=f"{dataset}: encoder weights widen")  # fmt: skip
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "sleep_length.png"
    save_figure(fig, path)
    plt.close(fig)
    return path


def _series(runs: list[dict]) -> list[tuple[tuple[str, str, int], dict]]:
    """(classifier, row, n) to draw: clean solid, gray-box FGSM dashed, a colour per
    classifier; only those that every run has."""
    keys = [{_key(a) for a in r["accuracy"]} for r in runs]
    common = set.intersection(*keys) if keys else set()
    classifiers = sorted({key[0] for key in common})
    out = []
    for label, ls in (("clean", "-"), ("gray-box FGSM", "--")):
        for i, clf in enumerate(classifiers):
            for key in sorted(k for k in common if k[:2] == (clf, label)):
                out.append((key, {"color": f"C{i}", "ls": ls, "marker": "o"}))
    return out


def main(argv: list[str] | None = None) -> int:
    from vae_seed_summary import summary_main  # scripts/ is on sys.path when run as a script

    return summary_main(argv, __doc__, "sleep_length_summary.py",
                        "<dataset>/n-sleep-<N>/whitebox.json", "runs", summarise, markdown,
                        plot)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
