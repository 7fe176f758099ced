"""Tabulate the runs of ``scripts/vae_seed_study.py``: sleep's effect against the spread of VAEs.

Usage::

    python scripts/vae_seed_summary.py --runs results/sleep-vae-seeds --out results/sleep-vae-seeds

``--runs`` holds ``<dataset>/vae-seed-<s>/whitebox.json`` (and ``blackbox.json`` where the run
had the black-box substitute). Per dataset, model (the shared Defense-VAE, and its E2E copies
where the runs have them), classifier and attack: the awake accuracy per VAE seed, the slept one
per VAE seed (mean over the sleep seeds), their difference Δ per VAE seed, and over the VAE seeds:
mean ± population std of each and how many VAE seeds show Δ < 0. Writes ``summary.json`` and
``summary.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROWS = (
    ("clean", "none", "none"),
    ("gray-box FGSM", "fgsm", "gray-box"),
    ("gray-box RAND+FGSM", "rand-fgsm", "gray-box"),
    ("gray-box CW", "cw", "gray-box"),
    ("black-box FGSM", "fgsm", "black-box"),
    ("adaptive PGD", "pgd", "white-box-adaptive"),
    ("worst case (gray-box)", "worst-case", "gray-box"),
)
#: (label, awake defense, slept defense) as the records name them.
MODELS = (
    ("Defense-VAE", "defense-vae", "defense-vae-sleep"),
    ("E2E", "defense-vae-e2e", "defense-vae-sleep-e2e"),
)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values)


def _records(run: Path) -> list[dict]:
    """The run's gray-box / adaptive records and, where present, its black-box ones (whose
    clean rows repeat the gray-box table's and are left out)."""
    records = json.loads((run / "whitebox.json").read_text())
    if (run / "blackbox.json").is_file():
        blackbox = json.loads((run / "blackbox.json").read_text())
        records += [r for r in blackbox if r["threat_model"] == "black-box"]
    return records


def summarise(runs: Path) -> list[dict]:
    rows = []
    for dataset_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        seeds = {}
        for run in sorted(dataset_dir.glob("vae-seed-*")):
            match = re.fullmatch(r"vae-seed-(\d+)", run.name)
            if match and (run / "whitebox.json").is_file():
                seeds[int(match.group(1))] = _records(run)
        classifiers = sorted({r["classifier"] for recs in seeds.values() for r in recs})
        for model, awake_name, slept_name in MODELS:
            for clf in classifiers:
                for label, attack, threat in ROWS:
                    # One row per image count: runs on other images are not averaged together.
                    sizes = sorted({r["n"] for recs in seeds.values() for r in recs
                                    if (r["classifier"], r["attack"], r["threat_model"])
                                    == (clf, attack, threat)})  # fmt: skip
                    for n in sizes:
                        row = _row(seeds, (clf, attack, threat, n), awake_name, slept_name)
                        if row is not None:
                            rows.append({"dataset": dataset_dir.name, "model": model,
                                         "classifier": clf, "row": label, **row})  # fmt: skip
    return rows


def _row(seeds: dict[int, list[dict]], where: tuple[str, str, str, int], awake_name: str,
         slept_name: str) -> dict | None:  # fmt: skip
    """The row of the records at ``where`` = (classifier, attack, threat model, n)."""
    _, attack, threat, n = where
    awake, slept = {}, {}
    for seed, records in seeds.items():
        for r in records:
            if (r["classifier"], r["attack"], r["threat_model"], r["n"]) != where:
                continue
            base = r["defense"].split("#")[0]
            if base == awake_name:
                awake[seed] = r["accuracy"]
            elif base == slept_name:
                slept.setdefault(seed, []).append(r["accuracy"])
    common = sorted(set(awake) & set(slept))
    if not common:
        return None
    sleep_mean = {s: statistics.fmean(slept[s]) for s in common}
    delta = {s: sleep_mean[s] - awake[s] for s in common}
    return {
        "attack": attack, "threat_model": threat, "n": n, "vae_seeds": common,
        "sleep_seeds_per_vae": {s: len(slept[s]) for s in common},
        "defense_vae": {s: awake[s] for s in common},
        "defense_vae_sleep": sleep_mean,
        "delta": delta,
        "defense_vae_mean_std": _mean_std([awake[s] for s in common]),
        "defense_vae_sleep_mean_std": _mean_std(list(sleep_mean.values())),
        "delta_mean_std": _mean_std(list(delta.values())),
        "vae_seeds_with_delta_below_0": sum(d < 0 for d in delta.values()),
    }  # fmt: skip


def markdown(rows: list[dict], command: str) -> str:
    lines = ["# Sleep against the spread between Defense-VAE seeds", "", f"- command: `{command}`",
             "- accuracy %; per VAE seed, Defense-VAE-Sleep is the mean over its sleep seeds; "
             "± is the population std over the VAE seeds; Δ = Sleep − Defense-VAE, paired by "
             "VAE seed", ""]  # fmt: skip
    for dataset in sorted({r["dataset"] for r in rows}):
        lines += [f"## {dataset}", "",
                  "| model | clf | row | n | awake per VAE seed | sleep per VAE seed | "
                  "awake | sleep | Δ | seeds with Δ < 0 |",
                  "|---|---|---|---:|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for r in (r for r in rows if r["dataset"] == dataset):
            per = " / ".join(f"{r['defense_vae'][s]:.2f}" for s in r["vae_seeds"])
            per_sleep = " / ".join(f"{r['defense_vae_sleep'][s]:.2f}" for s in r["vae_seeds"])
            a, sa = r["defense_vae_mean_std"]
            b, sb = r["defense_vae_sleep_mean_std"]
            d, sd = r["delta_mean_std"]
            lines.append(
                f"| {r['model']} | {r['classifier']} | {r['row']} | {r['n']} | {per} | "
                f"{per_sleep} | "
                f"{a:.2f} ± {sa:.2f} | {b:.2f} ± {sb:.2f} | {d:+.2f} ± {sd:.2f} | "
                f"{r['vae_seeds_with_delta_below_0']}/{len(r['vae_seeds'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def summary_main(argv: list[str] | None, doc: str, script: str, layout: str, key: str,
                 summarise: Any, markdown: Any, figure: Any = None) -> int:  # fmt: skip
    """The command line shared by the study summaries: ``--runs`` -> ``summarise`` ->
    ``--out/summary.json`` (``{"command", key: ...}``) and ``--out/summary.md``, and
    ``figure(rows, out)`` where one is given."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from spikedefense._atomic import atomic_write_text

    if not Path(args.runs).is_dir():
        parser.error(f"--runs: {args.runs} is not a folder")
    rows = summarise(Path(args.runs))
    if not rows:
        parser.error(f"--runs: no {layout} under {args.runs}")
    command = f"python scripts/{script} " + " ".join(argv or sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps({"command": command, key: rows},
                                                       indent=1))  # fmt: skip
    atomic_write_text(out / "summary.md", markdown(rows, command))
    print(markdown(rows, command))
    if figure is not None:
        print(f"figure: {figure(rows, out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return summary_main(argv, __doc__, "vae_seed_summary.py",
                        "<dataset>/vae-seed-<s>/whitebox.json", "rows", summarise, markdown)


if __name__ == "__main__":
    sys.exit(main())
