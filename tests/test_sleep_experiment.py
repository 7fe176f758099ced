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
