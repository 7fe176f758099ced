"""The Memory Defense study: its rows, resumable units under each threat model, the report with
the detector and the figures (small random models; the real run is `spikedefense memory-table`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spikedefense.defenses.memory import FixedSelection, MemoryDefenseModel
from spikedefense.models import make_small_cnn
from spikedefense.models.memory import MemoryAutoencoder
from spikedefense.studies.memory_attacks import (
    DOCUMENT_EPSILONS,
    THREATS,
    MemoryRow,
    planned_rows,
)
from spikedefense.studies.memory_report import render_memory_report, roc_auc
from spikedefense.studies.memory_units import pgd_low_error, run_units, unit_path


@pytest.fixture(scope="module")
def model() -> MemoryDefenseModel:
    torch.manual_seed(0)
    return MemoryDefenseModel(make_small_cnn().eval(), MemoryAutoencoder(keep=5).eval())


def test_planned_rows_cover_the_documents_tables_and_the_headline_budget() -> None:
    for headline in (0.1, 0.3):
        rows = planned_rows(headline)
        keys = [(r.attack, round(r.epsilon, 6), r.threats) for r in rows]
        assert len(keys) == len(set(keys))
        for eps in (*DOCUMENT_EPSILONS, headline):
            for attack in ("fgsm", "bim", "pgd"):
                assert any(r.attack == attack and r.epsilon == eps and r.threats == THREATS
                           for r in rows), (attack, eps)  # fmt: skip
            assert any(r.attack == "square" and r.epsilon == eps for r in rows) == (
                eps != DOCUMENT_EPSILONS[0])  # fmt: skip
        assert sum(r.attack == "cw-strong" for r in rows) == 1
        doc = [r for r in rows if r.table == "1" and r.attack == "pgd"]
        assert [r.params for r in doc] == [{"alpha": 0.0075, "steps": 40}] * 2


def test_roc_auc_is_the_rank_probability() -> None:
    assert roc_auc([0.0, 1.0], [2.0, 3.0]) == 1.0
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert roc_auc([1.0, 1.0], [1.0]) == 0.5
    rng = np.random.default_rng(0)
    neg, pos = rng.random(30), rng.random(20) + 0.3
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(neg, pos) == pytest.approx(brute)
    assert np.isnan(roc_auc([], [1.0]))


def test_low_error_pgd_stays_in_the_ball(model: MemoryDefenseModel) -> None:
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3])
    adv = pgd_low_error(model, x, y, epsilon=0.05, alpha=0.02, steps=3, weight=10.0, tau=0.1)
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_units_run_once_per_threat_and_the_report_reads_them(
    model: MemoryDefenseModel, tmp_path: Path
) -> None:
    x = torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    y = model(x).argmax(1)
    rows = [MemoryRow("fgsm", DOCUMENT_EPSILONS[1], {}, THREATS, "1"),
            MemoryRow("pgd", DOCUMENT_EPSILONS[1], {"steps": 2}, ("transfer",)),
            MemoryRow("pgd-low-error", DOCUMENT_EPSILONS[1],
                      {"alpha": 0.02, "steps": 2, "weight": 10.0}, ("adaptive-detector",)),
            MemoryRow("square", DOCUMENT_EPSILONS[1], {"n_queries": 3}, ("query",))]  # fmt: skip
    source = make_small_cnn().eval()
    index = np.arange(100, 112)
    paths = run_units(model, rows, x, y, index, tmp_path, source=source, tau=0.05,
                      progress=False)  # fmt: skip
    assert len(paths) == 7 and all(p.is_file() for p in paths)
    stamp = [p.stat().st_mtime_ns for p in paths]
    run_units(model, rows, x, y, index, tmp_path, source=source, tau=0.05, progress=False)
    assert [p.stat().st_mtime_ns for p in paths] == stamp
    # a record written with other attack settings is not this unit's: it runs again
    stale = unit_path(tmp_path, rows[1], "transfer")
    record = json.loads(stale.read_text())
    stale.write_text(json.dumps({**record, "params": {"steps": 1}}))
    run_units(model, rows, x, y, index, tmp_path, source=source, tau=0.05, progress=False)
    assert json.loads(stale.read_text())["params"] == {"steps": 2}
    assert [p.stat().st_mtime_ns for p in paths if p != stale] == [
        t for p, t in zip(paths, stamp, strict=True) if p != stale]  # fmt: skip
    document = json.loads(unit_path(tmp_path, rows[0], "document").read_text())
    assert document["indices"] == index.tolist() and len(document["correct"]) == 12
    # the document's decision uses the memory of A's label on the clean image
    from spikedefense.attacks import make_attack

    clean_labels = model.selector(x).argmax(1)
    fixed = FixedSelection(model, clean_labels)
    adv = make_attack("fgsm", DOCUMENT_EPSILONS[1])(fixed, x, y)
    with torch.no_grad():
        assert document["correct"] == (fixed(adv).argmax(1) == y).tolist()
    setup = {"dataset": "fashion-mnist", "n": 12, "tau": 0.05, "surrogate": "ST",
             "sparsity": {"slots_read_mean": 5.0, "slots": 500, "fraction_of_memory": 0.01}}
    clean = {"Memory Defense": {"accuracy": 91.0, "n": 10000}}
    written = render_memory_report(tmp_path, rows, setup, clean, np.full(12, 0.01))
    text = written["memory_md"].read_text()
    assert "| fgsm | document | " in text and "(doc. 90.03)" in text
    assert "(doc. 92.36)" in text  # clean accuracy beside the document's
    assert "| pgd-low-error | adaptive-detector | 25/255 |" in text
    summary = json.loads(written["memory_json"].read_text())
    assert summary["cells"][f"document/fgsm/{DOCUMENT_EPSILONS[1]:.4f}"]["n"] == 12
    from spikedefense.studies.memory_figures import write_memory_figures

    drawn = write_memory_figures(tmp_path, model, x, y, rows)
    assert sorted(drawn) == ["accuracy_vs_epsilon", "attention", "reconstructions"]
    assert all(p.stat().st_size > 0 for p in drawn.values())
