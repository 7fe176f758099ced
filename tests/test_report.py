"""Result records, the seed's published numbers, Markdown reports and robustness curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spikedefense.defenses.published import TABLE4, TABLE5, published
from spikedefense.evaluation.records import (
    THREAT_MODELS,
    Record,
    read_csv,
    read_json,
    write_csv,
    write_json,
)
from spikedefense.evaluation.report import attack_family, markdown_report, write_report


def rec(**kw: Any) -> Record:
    base: dict[str, Any] = dict(
        dataset="mnist",
        classifier="C1",
        defense="defense-vae",
        attack="fgsm",
        epsilon=0.3,
        threat_model="gray-box",
        accuracy=90.0,
        n=100,
        seed=0,
        command="spikedefense eval",
    )
    base.update(kw)
    return Record(**base)


def synthetic() -> list[Record]:
    return [
        rec(defense="none", attack="none", epsilon=0.0, threat_model="none", accuracy=97.0),
        rec(attack="none", epsilon=0.0, threat_model="none", accuracy=95.5),
        rec(defense="none", threat_model="white-box", accuracy=3.25),
        rec(accuracy=94.0, params={"steps": 1}),
        rec(attack="cw", accuracy=88.0),
        rec(attack="pgd", accuracy=70.0),
        rec(attack="pgd-bpda-eot", threat_model="white-box-adaptive", accuracy=12.5),
        rec(attack="pgd", epsilon=0.1, accuracy=5.0),  # lower, but not at ε = 0.3
        rec(
            classifier="C2",
            defense="none",
            threat_model="black-box",
            accuracy=60.0,
            params={"substitute": "C1"},
        ),
        rec(classifier="C2", threat_model="black-box", accuracy=97.0, params={"substitute": "C1"}),
    ]


@pytest.mark.parametrize(
    "field,kw",
    [
        ("threat_model", {"threat_model": "grey"}),
        ("threat_model", {"attack": "none"}),  # clean records carry threat model "none"
        ("accuracy", {"accuracy": 100.5}),
        ("accuracy", {"accuracy": -1.0}),
        ("accuracy", {"accuracy": float("nan")}),
        ("n", {"n": 0}),
        ("epsilon", {"epsilon": -0.1}),
    ],
)
def test_record_validation_names_field(field: str, kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        rec(**kw)


def test_threat_models() -> None:
    assert set(THREAT_MODELS) == {
        "none",
        "gray-box",
        "white-box-adaptive",
        "black-box",
        "white-box",
    }


def test_json_csv_round_trip_atomic(tmp_path: Path) -> None:
    records = synthetic()
    records.append(rec(accuracy=1 / 3, epsilon=0.1 + 0.2, params={"a": [1, 2], "b": "x,y"}))
    pj = write_json(records, tmp_path / "r.json")
    pc = write_csv(records, tmp_path / "sub" / "r.csv")
    assert read_json(pj) == records
    assert read_csv(pc) == records
    assert json.loads(pj.read_text())[3]["params"] == {"steps": 1}
    assert "  " in pj.read_text()  # pretty-printed
    header = pc.read_text().splitlines()[0].split(",")
    assert header == [
        "dataset",
        "classifier",
        "defense",
        "attack",
        "epsilon",
        "threat_model",
        "accuracy",
        "n",
        "seed",
        "command",
        "params",
    ]
    write_json(records[:1], pj)  # overwrite in place
    assert read_json(pj) == records[:1]
    left = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(left) == ["r.csv", "r.json"]
    assert Record.from_dict(records[0].to_dict()) == records[0]
    pj.write_text('[{"dataset": ')  # a file cut short
    with pytest.raises(ValueError, match=rf"^path: {pj} is not valid JSON"):
        read_json(pj)


def test_published_spot_checks() -> None:
    assert published("mnist", "C1", "defense-vae", "fgsm", "gray-box") == 95.92
    assert published("fashion-mnist", "C3", "defense-vae-sleep", "cw", "gray-box") == 82.61
    assert published("mnist", "C2", "none", "fgsm", "black-box", substitute="C1") == 66.48
    assert published("mnist", "C1", "none", "fgsm", "white-box") == 2.20
    assert published("mnist", "C2", "none", "cw", "white-box") == 12.60
    assert (
        published("fashion-mnist", "C2", "defense-vae-sleep-e2e", "rand-fgsm", "gray-box") == 91.07
    )
    assert published("mnist", "C3", "none", "none", "none") == 99.20
    assert (
        published("fashion-mnist", "C1", "defense-vae-sleep", "fgsm", "black-box", substitute="C4")
        == 69.01
    )
    # No seed counterpart.
    assert published("mnist", "C1", "defense-vae-e2e", "fgsm", "gray-box") is None
    assert published("mnist", "C1", "defense-vae", "pgd", "gray-box") is None
    assert published("mnist", "C1", "defense-vae", "fgsm", "white-box-adaptive") is None
    assert published("mnist", "C1", "defense-vae", "fgsm", "white-box") is None
    assert published("mnist", "C1", "none", "fgsm", "black-box") is None  # no substitute
    assert published("celeba", "C1", "none", "fgsm", "white-box") is None
    assert len(TABLE4) == 2 * 3 * (3 * 5 + 1) and len(TABLE5) == 2 * 6 * 6


def test_markdown_report_pairs_and_worst_case() -> None:
    records = synthetic()
    md = markdown_report(records, "Demo", notes="Tiny synthetic run.")
    assert md.startswith("# Demo\n")
    assert "97.00 (seed 96.20)" in md  # clean, C1
    assert "94.00 (seed 95.92)" in md  # FGSM, Defense-VAE, gray-box
    assert "3.25 (seed 2.20)" in md  # FGSM, no defense, white-box
    assert "88.00 (seed 87.66)" in md  # CW, Defense-VAE
    assert "60.00 (seed 66.48)" in md  # black-box C2 <- C1, no defense
    assert "97.00 (seed 97.91)" in md  # black-box C2 <- C1, Defense-VAE
    assert "| 0.10 |" in md and "5.00 |" in md  # the ε = 0.1 row, no seed pair
    # Adaptive row next to the gray-box number of the same family (pgd) at the same ε.
    adaptive = next(line for line in md.splitlines() if "pgd-bpda-eot" in line)
    assert "12.50" in adaptive and "70.00 (pgd)" in adaptive and "-57.50" in adaptive
    # Worst case for (C1, defense-vae) at ε = 0.3: min(94, 88, 70, 12.5) — not the ε = 0.1 row,
    # never averaged with the clean 95.5.
    section = md.split("### Worst case at ε = 0.30")[1].split("## Provenance")[0]
    worst = [line for line in section.splitlines() if line.startswith("| C1 | defense-vae | ")]
    assert len(worst) == 1 and "| 100 | 12.50 | pgd-bpda-eot (white-box-adaptive) |" in worst[0]
    assert "95.50" in worst[0]
    assert "| C1 | none | 100 | 3.25 | fgsm (white-box) |" in section
    assert "| C2 | none | 100 | 60.00 | fgsm (black-box) |" in section
    assert md.rstrip().endswith("Tiny synthetic run.")
    assert "`spikedefense eval`" in md


def test_subset_attacks_are_kept_apart_from_the_full_set() -> None:
    """An attack run on a 20-image subset is neither the full set's worst case nor set against
    the full set's gray-box numbers."""
    records = [*synthetic(), rec(attack="apgd-ce", threat_model="white-box-adaptive",
                                 accuracy=0.0, n=20)]  # fmt: skip
    md = markdown_report(records, "Subset")
    section = md.split("### Worst case at ε = 0.30")[1].split("## Provenance")[0]
    rows = [line for line in section.splitlines() if line.startswith("| C1 | defense-vae | ")]
    assert len(rows) == 2
    assert "| 100 | 12.50 | pgd-bpda-eot" in rows[0] and "| 20 | 0.00 | apgd-ce" in rows[1]
    subset = next(line for line in md.splitlines() if "| apgd-ce |" in line and "| 20 |" in line)
    assert subset.rstrip().endswith("| — | — |")  # no gray-box attack ran on those 20 images


def test_attack_family() -> None:
    assert attack_family(rec(attack="pgd-bpda-eot")) == "pgd"
    assert attack_family(rec(attack="rand-fgsm")) == "rand-fgsm"
    assert attack_family(rec(attack="x", params={"family": "fgsm"})) == "fgsm"


def test_write_report(tmp_path: Path) -> None:
    paths = write_report(synthetic(), tmp_path / "out", "report", "Demo")
    assert [p.name for p in paths] == ["report.json", "report.csv", "report.md"]
    assert read_json(paths.json) == synthetic()
    assert paths.markdown.read_text().startswith("# Demo")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    assert markdown_report([], "Empty").startswith("# Empty\n\nNo records.")


def test_plot_accuracy_vs_epsilon(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikedefense.viz import plot_accuracy_vs_epsilon
    from spikedefense.viz.curves import save_figure

    records = synthetic()
    records.append(rec(epsilon=0.1, accuracy=96.0))  # second FGSM point
    ax = plot_accuracy_vs_epsilon(records, classifier="C1", title="C1")
    # C1 series: none/fgsm/wb, vae/fgsm, vae/cw, vae/pgd, vae/pgd-bpda-eot.
    assert len(ax.get_lines()) == 5
    assert ax.get_ylim() == (0.0, 100.0)
    assert len(ax.get_legend().get_texts()) == 5
    fgsm = next(
        line for line in ax.get_lines() if line.get_label() == "C1 / defense-vae / fgsm (gray-box)"
    )
    assert list(fgsm.get_xdata()) == [0.0, 0.1, 0.3]  # clean anchor at ε = 0
    assert list(fgsm.get_ydata()) == [95.5, 96.0, 94.0]
    # Across classifiers: C1 none/fgsm, vae/fgsm, vae/cw; C2 none/fgsm, vae/fgsm (black-box).
    assert len(plot_accuracy_vs_epsilon(records, attack_filter={"fgsm", "cw"}).get_lines()) == 5
    assert len(plot_accuracy_vs_epsilon(records, attack_filter="cw").get_lines()) == 1
    ax3 = plot_accuracy_vs_epsilon(records, attack_filter=lambda a: a.startswith("pgd"))
    assert len(ax3.get_lines()) == 2
    path = save_figure(ax, tmp_path / "figs" / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert [p.name for p in path.parent.iterdir()] == ["curve.png"]
    with pytest.raises(ValueError, match="records"):
        plot_accuracy_vs_epsilon(records, classifier="C9")
    plt.close("all")


def test_plot_accuracy_vs_epsilon_averages_seeds_of_one_defense() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikedefense.viz import plot_accuracy_vs_epsilon

    records = [rec(defense="defense-vae", accuracy=95.0)]
    for seed, (clean, attacked) in enumerate([(98.0, 80.0), (96.0, 84.0), (97.0, 88.0)]):
        name = f"defense-vae-sleep#s{seed}"
        records += [rec(defense=name, attack="none", epsilon=0.0, threat_model="none",
                        accuracy=clean), rec(defense=name, accuracy=attacked)]  # fmt: skip
    ax = plot_accuracy_vs_epsilon(records)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"C1 / defense-vae / fgsm (gray-box)",
                          "C1 / defense-vae-sleep / fgsm (gray-box), mean of 3 seeds"}  # fmt: skip
    slept = lines["C1 / defense-vae-sleep / fgsm (gray-box), mean of 3 seeds"]
    assert list(slept.get_xdata()) == [0.0, 0.3]
    assert list(slept.get_ydata()) == [97.0, 84.0]
    plt.close("all")


def test_cells_pool_runs_by_n() -> None:
    runs = [rec(accuracy=90.0, n=100, seed=0), rec(accuracy=98.0, n=300, seed=1)]
    assert "96.00 [pooled over 2 runs] (seed 95.92)" in markdown_report(runs, "Pooled")
