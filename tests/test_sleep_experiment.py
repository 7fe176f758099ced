"""The sleep experiment's checkpoints: one set per sleep run, so reruns with other settings work."""

from __future__ import annotations

from dataclasses import replace

import torch

from spikedefense.defenses import DefenseVAE
from spikedefense.evaluation.profiles import make_sleep_config
from spikedefense.evaluation.sleep_experiment import _sleep_defenses
from spikedefense.models import ConvVAE, make_classifier


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
    from spikedefense.evaluation.sleep_experiment import _summary_markdown

    def row(table, defense, attack, threat, n, mean, eps=0.3):
        return {"table": table, "classifier": "C1", "defense": defense, "attack": attack,
                "epsilon": eps, "threat_model": threat, "n": n, "mean": mean, "std": 0.0,
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
