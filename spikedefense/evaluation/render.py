"""Write (or re-write) a result folder's tables, sanity checks and ε plot from its records.

:func:`publish` is what a run calls at its end; :func:`render_results` rebuilds the Markdown,
``sanity.json`` and the plot from the JSON records already in a folder (``spikedefense report
DIR``), for example after adding a ``NOTES.md`` that explains where the numbers differ from the
published ones. The Markdown of ``whitebox.md`` ends with the sanity checks, the protocol
summary its caller
gives, the contents of ``NOTES.md`` if present, and the command. A study that writes its own files
beside these (``spikedefense.studies``) re-renders them on top of :func:`render_results`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from .records import Record, read_json

__all__ = ["publish", "render_results"]

_STEMS = ("whitebox", "blackbox", "sweep")


def publish(
    out_dir: str | os.PathLike[str],
    whitebox: Sequence[Record],
    blackbox: Sequence[Record],
    sweep: Sequence[Record],
    *,
    dataset: str,
    epsilon: float,
    command: str,
    protocol: str | None = None,
) -> dict[str, Path]:
    """Write ``{whitebox,blackbox,sweep}.{json,csv,md}``, ``sanity.json`` and the ε plot.

    ``protocol``: Markdown describing what the run trained and which budgets it used, written
    under "Protocol of this run" (a study passes its own summary; the harness knows none).
    """
    from ..viz.curves import plot_accuracy_vs_epsilon, save_figure
    from .records import atomic_write_text
    from .report import write_report
    from .sanity import run_sanity_checks

    out = Path(out_dir)
    checks = run_sanity_checks(whitebox, sweep, epsilon=epsilon)
    passed = sum(c.passed for c in checks)
    lines = [f"- {'PASS' if c.passed else 'FAIL'} `{c.name}` {c.subject}: {c.detail}"
             for c in checks]  # fmt: skip
    if checks:
        notes = f"## Sanity checks ({passed}/{len(checks)} passed)\n\n" + "\n".join(lines) + "\n"
    else:
        notes = ("## Sanity checks: ERROR, none ran\n\nThese records hold no ε sweep and no "
                 "attack pair that a check compares; the run cannot be called sane.\n")  # fmt: skip
    if protocol:
        notes += "\n## Protocol of this run\n\n" + protocol.strip() + "\n"
    if (out / "NOTES.md").is_file():
        notes += "\n" + (out / "NOTES.md").read_text().strip() + "\n"
    notes += f"\nCommand: `{command}`\n"
    title = f"{dataset}: white-box, gray-box and adaptive robustness (ε = {epsilon:g})"
    tables = [("whitebox", whitebox, title, notes),
              ("blackbox", blackbox, f"{dataset}: black-box robustness", ""),
              ("sweep", sweep, f"{dataset}: accuracy against ε", "")]  # fmt: skip
    paths: dict[str, Path] = {}
    for stem, records, heading, text in tables:
        if records:
            written = write_report(records, out, stem, heading, text)
            for key, path in zip(("json", "csv", "md"), written, strict=True):
                paths[f"{stem}.{key}"] = Path(path)
    payload = {"status": "ok" if checks else "error", "checks": [c.to_dict() for c in checks],
               "command": command}  # fmt: skip
    if not checks:
        payload["error"] = "no sanity check ran on these records"
    atomic_write_text(out / "sanity.json", json.dumps(payload, indent=2))
    paths["sanity.json"] = out / "sanity.json"
    if sweep:
        import matplotlib.pyplot as plt

        names = sorted({r.classifier for r in sweep})
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            plot_accuracy_vs_epsilon(sweep, ax=ax, classifier=name, title=f"{dataset} {name}")
        paths["png"] = out / "accuracy_vs_epsilon.png"
        save_figure(fig, paths["png"])
        plt.close(fig)
    return paths


def render_results(out_dir: str | os.PathLike[str], *, epsilon: float | None = None,
                   protocol: str | None = None) -> dict[str, Path]:
    """Rebuild the Markdown, sanity checks and plot of a result folder from its JSON records.

    Args:
        out_dir: a folder written by :func:`publish`.
        epsilon: the headline ε of the run; None reads it from the folder's ``summary.json``
            (written by :func:`~.defense_run.run_defenses`), else 0.3.
        protocol: as for :func:`publish`.

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``whitebox.json``.
        ValueError: its ``whitebox.json`` holds no records.
    """
    out = Path(out_dir)
    if not (out / "whitebox.json").is_file():
        raise FileNotFoundError(2, f"no whitebox.json in {out}; run spikedefense evaluate first",
                                str(out / "whitebox.json"))  # fmt: skip
    records = {s: read_json(out / f"{s}.json") if (out / f"{s}.json").is_file() else []
               for s in _STEMS}  # fmt: skip
    if not records["whitebox"]:
        raise ValueError(f"{out / 'whitebox.json'} holds no records")
    if epsilon is None:
        epsilon = 0.3
        if (out / "summary.json").is_file():
            from .._files import read_json_file

            setup = read_json_file(out / "summary.json").get("setup", {})
            epsilon = float(setup.get("evaluation", {}).get("epsilon", epsilon))
    first = records["whitebox"][0]
    return publish(out, records["whitebox"], records["blackbox"], records["sweep"],
                   dataset=first.dataset, epsilon=epsilon, command=first.command,
                   protocol=protocol)  # fmt: skip
