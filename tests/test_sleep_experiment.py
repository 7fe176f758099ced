"""The sleep experiment's checkpoints: one set per sleep run, so reruns with other settings work."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from spikedefense.defenses import DefenseVAE
from spikedefense.models import ConvVAE, make_classifier
from spikedefense.studies.profiles import make_sleep_config
from spikedefense.studies.sleep_experiment import _sleep_defenses


def test_a_rerun_with_more_sleep_images_gets_its_own_checkpoint(tmp_path):
    torch.manual_seed(0)
    defense = DefenseVAE(ConvVAE(latent_dim=8).eval(), make_classifier("C3").eval())
    adversarial = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(40) % 10
    config = make_sleep_config("tiny", "mnist", str(tmp_path / "out"), str(tmp_path / "work"))
    config = replace(config, sleep_seeds=(0,), n_calibration=8)
    stems = []
    for n_sleep in (2, 3, 2):  # the third run resumes the first one's finished checkpoint
        _, results = _sleep_defenses(replace(config, n_sleep=n_sleep), {"C3": [defense]},
                                     adversarial, labels, progress=False)  # fmt: skip
        (result,) = results.values()
        assert result.report.images == n_sleep
        stems.append({p.name for p in (tmp_path / "work").glob("sleep-*.json")})
    assert len(stems[0]) == 1 and len(stems[1]) == 2 and stems[2] == stems[1]
    assert result.report.resumed_from == 2


def test_summary_keeps_rows_of_other_n_apart_and_labels_budget_and_n():
    from spikedefense.studies.sleep_summary import _summary_markdown

    def row(table, defense, attack, threat, n, mean, eps=0.3):
        return {"table": table, "classifier": "C1", "defense": defense, "attack": attack,
                "epsilon": eps, "threat_model": threat, "n": n, "mean": mean, "interval": None,
                "seeds": 1, "published": None}  # fmt: skip

    rows = [row("whitebox", d, "worst-case", "white-box-adaptive", n, m)
            for d, n, m in (("defense-vae", 500, 40.0), ("defense-vae", 100, 10.0),
                            ("defense-vae-sleep", 500, 30.0), ("defense-vae-sleep", 100, 5.0))]
    rows += [row("blackbox", "defense-vae", "none", "none", 500, 99.0, eps=0.0)]  # fmt: skip
    lines = _summary_markdown(rows, "mnist", "cmd", [0]).splitlines()
    for n, cells in ((100, "10.00 | 5.00 | -5.00"), (500, "40.00 | 30.00 | -10.00")):
        expected = f"| C1 | whitebox | worst-case | 0.30 | white-box-adaptive | {n} | {cells} |"
        assert any(line.startswith(expected) for line in lines)
    assert not any("| blackbox |" in line for line in lines)


def test_report_rewrites_the_sleep_summary_from_the_records(tmp_path):
    """``spikedefense report`` on a sleep run's folder rebuilds sleep_summary.{json,md}."""
    from spikedefense.evaluation.records import Record, write_json
    from spikedefense.studies.render import render_folder

    def record(defense, attack, accuracy):
        eps, threat = (0.0, "none") if attack == "none" else (0.3, "gray-box")
        return Record("mnist", "C1", defense, attack, eps, threat, accuracy, 500, 0, "cmd")

    records = [record("defense-vae", a, m) for a, m in (("none", 99.0), ("fgsm", 90.0))]
    records += [record(f"defense-vae-sleep#s{s}", "fgsm", m) for s, m in ((0, 80.0), (1, 84.0))]
    write_json(records, tmp_path / "whitebox.json")
    (tmp_path / "sleep_summary.md").write_text("an older layout\n")
    paths = render_folder(tmp_path)
    assert paths["sleep_summary.md"] == tmp_path / "sleep_summary.md"
    text = (tmp_path / "sleep_summary.md").read_text()
    assert "sleep seeds [0, 1]" in text and "| n |" in text
    # (96.12): the seed's published cell for C1 gray-box FGSM.
    expected = ("| C1 | whitebox | fgsm | 0.30 | gray-box | 500 | 90.00 | "
                "82.00 [56.59, 100.00] (96.12) | -8")
    assert expected in text
    (row,) = [r for r in json.loads((tmp_path / "sleep_summary.json").read_text())
              if r["defense"] == "defense-vae-sleep"]  # fmt: skip
    assert (row["mean"], row["seeds"]) == (82.0, 2)
    # t-interval over 2 seeds: 82 ± t(0.975, 1) * s / sqrt(2) with s = sqrt(8), clipped at 100
    assert row["interval"] == pytest.approx([82.0 - 12.706 * 2.0, 100.0])
    # A folder without slept defenses gets no sleep summary.
    awake = tmp_path / "awake"
    awake.mkdir()
    write_json(records[:2], awake / "whitebox.json")
    assert "sleep_summary.md" not in render_folder(awake)
    assert not (awake / "sleep_summary.md").exists()


@pytest.mark.parametrize("profile, sizes", [("demo", "DEMO"), ("reproduction", "FULL")])
def test_builds_by_name_train_what_the_experiment_profile_trains(profile, sizes):
    from spikedefense.defenses import defense_vae_build

    config = make_sleep_config(profile, "mnist", "out", "work")
    awake = config.experiment
    assert getattr(defense_vae_build, sizes) == defense_vae_build.BuildSizes(
        classifier_epochs=awake.classifier_epochs["C1"], pair_images=awake.pair_limit,
        cw_images=awake.cw_limit, latent_dim=awake.latent_dim, vae_epochs=awake.vae_epochs,
        vae_batch_size=awake.vae_batch_size, e2e_images=awake.e2e_limit,
        sleep_images=config.n_sleep, calibration_images=config.n_calibration,
        pair_overrides=dict(awake.pair_overrides),
    )
