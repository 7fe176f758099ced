"""The evaluation harness: sanity checks, bad input, eval mode, and a tiny end-to-end CLI run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest
import torch

from spikedefense.defenses import DefenseVAE
from spikedefense.evaluation import EvaluationConfig, Record, evaluate, run_sanity_checks
from spikedefense.models import ConvVAE, make_classifier


def _r(defense, attack, eps, threat, acc, n=100):
    return Record("mnist", "C1", defense, attack, eps, threat, acc, n, 0, "cmd")


def test_sanity_checks_pass_on_a_healthy_curve():
    sweep = [
        _r("none", "pgd", e, "white-box", a) for e, a in ((0.1, 50), (0.3, 3), (0.5, 0), (1.0, 0))
    ]
    main = [
        _r("none", "fgsm", 0.3, "white-box", 20), _r("none", "pgd", 0.3, "white-box", 3),
        _r("d", "fgsm", 0.3, "gray-box", 90), _r("d", "pgd", 0.3, "white-box-adaptive", 10),
        _r("none", "cw-strong", 0.3, "white-box", 0.5),
        _r("d", "worst-case", 0.3, "white-box-adaptive", 5),
    ]  # fmt: skip
    checks = run_sanity_checks(main, sweep)
    assert {c.name for c in checks} == {
        "monotone", "large-epsilon", "unbounded", "iterative-beats-single-step",
        "adaptive-at-least-gray-box",
    }  # fmt: skip
    assert all(c.passed for c in checks), checks


def test_sanity_checks_compare_numbers_on_the_same_images():
    # A strong adaptive run on a 20-image subset must not hide that the full-set adaptive attack
    # is weaker than gray-box, nor be set against the full set.
    main = [_r("d", "fgsm", 0.3, "gray-box", 30), _r("d", "pgd", 0.3, "white-box-adaptive", 60),
            _r("d", "pgd", 0.3, "white-box-adaptive", 0, n=20),
            # Two runs of one attack on the same images: the stronger counts.
            _r("d", "fgsm", 0.3, "gray-box", 5, n=20),
            _r("d", "fgsm", 0.3, "gray-box", 50, n=20)]  # fmt: skip
    checks = [c for c in run_sanity_checks(main, []) if c.name == "adaptive-at-least-gray-box"]
    assert {(c.subject, c.passed) for c in checks} == {("C1 / d (n=100)", False),
                                                       ("C1 / d (n=20)", True)}  # fmt: skip
    assert "gray-box 5.0%" in next(c.detail for c in checks if c.subject.endswith("(n=20)"))


def test_sanity_checks_flag_gradient_masking():
    # A defense whose accuracy rises with ε and never reaches zero: every check must fail.
    sweep = [
        _r("d", "pgd", e, "white-box-adaptive", a)
        for e, a in ((0.1, 40), (0.3, 60), (0.5, 58), (1.0, 55))
    ]
    main = [_r("d", "fgsm", 0.3, "gray-box", 30), _r("d", "pgd", 0.3, "gray-box", 45),
            _r("d", "pgd", 0.3, "white-box-adaptive", 60),
            _r("none", "cw-strong", 0.3, "white-box", 40),
            # The worst case is below every attack by construction and must not hide the failure.
            _r("d", "worst-case", 0.3, "white-box-adaptive", 1)]  # fmt: skip
    failed = {c.name for c in run_sanity_checks(main, sweep) if not c.passed}
    assert failed == {"monotone", "large-epsilon", "unbounded", "iterative-beats-single-step",
                      "adaptive-at-least-gray-box"}  # fmt: skip


def _tiny_config(**changes):
    base = dict(
        dataset="embedded", n_attack=16, graybox_attacks=("fgsm",), graybox_other_attacks=(),
        adaptive_attacks=("pgd",), query_attacks=(), attack_overrides={"pgd": {"steps": 3}},
        sweep_epsilons=(0.3,), n_sweep=8, sweep_steps=2, substitute=None, command="test",
    )  # fmt: skip
    base.update(changes)
    return EvaluationConfig(**base)


def test_evaluate_keeps_models_untouched_and_labels_threat_models():
    torch.manual_seed(0)
    clf, vae = make_classifier("C1"), ConvVAE(latent_dim=8)
    clf.train(), vae.train()
    state = {k: v.clone() for k, v in [*clf.state_dict().items(), *vae.state_dict().items()]}
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    result = evaluate({"C1": clf}, {"C1": [DefenseVAE(vae, clf)]}, x, y, _tiny_config(),
                      progress=False)  # fmt: skip
    after = {**clf.state_dict(), **vae.state_dict()}
    assert all(torch.equal(v, after[k]) for k, v in state.items())  # BatchNorm stats unchanged
    assert clf.training and vae.training
    threats = {(r.defense, r.attack, r.threat_model) for r in result.whitebox}
    assert threats == {("none", "none", "none"), ("defense-vae", "none", "none"),
                       ("none", "fgsm", "white-box"), ("none", "pgd-l2", "white-box"),
                       ("defense-vae", "fgsm", "gray-box"),
                       ("defense-vae", "pgd", "white-box-adaptive"),
                       ("none", "worst-case", "white-box"),
                       ("defense-vae", "worst-case", "white-box-adaptive"),
                       ("defense-vae", "worst-case", "gray-box")}  # fmt: skip
    cells = {(r.defense, r.attack): r.accuracy for r in result.whitebox
             if r.params.get("threats") != "gray-box only"}
    # The per-image worst case is no better than any single attack it covers.
    assert cells[("defense-vae", "worst-case")] <= min(
        cells[("defense-vae", "fgsm")], cells[("defense-vae", "pgd")]
    )
    clean = [r for r in result.whitebox if r.attack == "none"]
    assert all(r.n == 40 for r in clean)
    assert all(r.n == 16 for r in result.whitebox if r.attack != "none")
    assert all(r.command == "test" for r in result.whitebox)


def test_adaptive_on_subset_attacks_the_subset_and_relabels_the_worst_case():
    torch.manual_seed(0)
    clf, vae = make_classifier("C3").eval(), ConvVAE(latent_dim=8).eval()
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    result = evaluate({"C3": clf}, {"C3": [DefenseVAE(vae, clf)]}, x, y,
                      _tiny_config(adaptive_on_subset=True), progress=False)  # fmt: skip
    pgd = [r for r in result.whitebox if r.attack == "pgd"]
    assert [r.n for r in pgd] == [8] and pgd[0].params["subset"] == "stratified sweep subset"
    worst = {(r.defense, r.n): r for r in result.whitebox if r.attack == "worst-case"}
    full, subset = worst[("defense-vae", 16)], worst[("defense-vae", 8)]
    assert full.threat_model == "gray-box"
    assert not any("adaptive" in label for label in full.params["over"])
    assert full.params["not_over"] == ["pgd (white-box-adaptive)"]
    # On the subset: every attack, the gray-box ones on all images restricted to it included.
    assert subset.threat_model == "white-box-adaptive"
    assert subset.params["over"] == ["fgsm (gray-box)", "pgd (white-box-adaptive)"]
    assert subset.accuracy <= pgd[0].accuracy


@pytest.mark.parametrize(("changes", "error", "text"), [
    ({"epsilon": -1.0}, ValueError, "^epsilon"),
    ({"sweep_epsilons": (0.1, 0.0)}, ValueError, "^sweep_epsilons"),
    ({"n_attack": 0}, ValueError, "^n_attack"),
    ({"adaptive_attacks": ("pdg",)}, ValueError, r"^adaptive_attacks: unknown attacks \['pdg'\]"),
    ({"attack_overrides": {"apgd_ce": {"steps": 3}}}, ValueError, "^attack_overrides: 'apgd_ce'"),
    ({"attack_overrides": {"pgd": {"step": 3}}}, TypeError, r"^attack_overrides\['pgd'\]"),
    ({"strong_overrides": {"pgd": {"steps": 0}}}, ValueError, r"^strong_overrides\['pgd'\]"),
])  # fmt: skip
def test_evaluation_config_is_checked_when_made(changes, error, text):
    with pytest.raises(error, match=text):
        _tiny_config(**changes)


def test_substitute_records_where_its_seed_images_come_from():
    torch.manual_seed(0)
    clf = make_classifier("C3").eval()
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    pools = []
    for n_attack in (16, 40):  # 24 spare test images, then none
        config = _tiny_config(n_attack=n_attack, adaptive_attacks=(), substitute="C4",
                              substitute_seeds=10, substitute_rounds=1,
                              substitute_epochs=1)  # fmt: skip
        result = evaluate({"C3": clf}, {}, x, y, config, progress=False)
        (record,) = [r for r in result.blackbox if r.attack == "fgsm"]
        pools.append(record.params["seed_pool"])
    assert pools == ["test images that are not attacked",
                     "all test images, the attacked ones included"]  # fmt: skip


def test_query_attacks_see_the_deployed_scores_not_the_attack_surface():
    from spikedefense.evaluation.harness import DeployedScores

    torch.manual_seed(0)

    from spikedefense.defenses import BaseDefense, DefenseInfo

    class Surrogate(BaseDefense):  # gradient attacks get a surrogate; deployed, images blank
        kind, info, classifier = "purifier", DefenseInfo("blank", "test"), make_classifier("C4")

        def purify(self, x):
            return torch.zeros_like(x)

        def _scores(self, x):
            return self.classifier(self.purify(x))

        def _surface(self, x):
            return self.classifier(x)  # no purifier at all

    x = torch.rand(5, 1, 28, 28)
    scores = DeployedScores(Surrogate())(x)
    assert torch.equal(scores, Surrogate.classifier(torch.zeros_like(x)))
    assert not torch.allclose(scores, Surrogate.classifier(x))


def test_evaluate_bad_input():
    clf = make_classifier("C4")
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    with pytest.raises(ValueError, match="not in classifiers"):
        evaluate({"C4": clf}, {"C9": []}, x, y, _tiny_config(), progress=False)
    with pytest.raises(TypeError, match="labels"):  # a wrong dtype is a wrong type
        evaluate({"C4": clf}, {}, x, y.int(), _tiny_config(), progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate({"C4": clf}, {}, x * 3, y, _tiny_config(), progress=False)
    with pytest.raises(ValueError, match="unknown attack"):
        evaluate({"C4": clf}, {}, x, y, _tiny_config(graybox_attacks=("nope",)), progress=False)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "spikedefense.cli", *args], capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), env=env)  # fmt: skip


def test_cli_rejects_bad_arguments(tmp_path):
    for args, message in ((["--dataset", "cifar"], "invalid choice"),
                          (["--profile", "huge"], "invalid choice"),
                          (["--classifiers", "C7"], "invalid choice"),
                          (["--n-attack", "0"], "positive integer")):  # fmt: skip
        done = _cli("evaluate", "--out", str(tmp_path), *args)
        assert done.returncode == 2 and message in done.stderr
    env = {**os.environ, "SPIKEDEFENSE_DATA": str(tmp_path)}
    done = _cli("evaluate", "--dataset", "mnist", "--out", str(tmp_path / "o"), env=env)
    assert done.returncode == 2 and "looked at" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_refuses_sleep_options_and_bad_paths_before_any_work(tmp_path, capsys):
    """Sleep-only options without --sleep, --figures-only without a finished run, a missing
    --data-dir and a negative sleep seed stop at once (exit 2, a message naming the option)."""
    from spikedefense.cli import main

    out = str(tmp_path / "out")
    for args, message in (
        (["--n-sleep", "5"], "--n-sleep: only with --sleep"),
        (["--sleep-seeds", "1", "--figures-only"], "--sleep-seeds, --figures-only: only with"),
        (["--sleep", "--figures-only"], "--figures-only: no sleep checkpoints in " + out),
        (["--sleep", "--sleep-seeds", "1", "1"], "--sleep-seeds: expected each seed once"),
        (["--dataset", "mnist", "--data-dir", str(tmp_path / "none")],
         "--data-dir: " + str(tmp_path / "none")),
        (["--sleep", "--sleep-seeds", "-1"], "--sleep-seeds: expected a non-negative integer"),
        (["--executor", "ray"], "--executor / --ray-address: the Defense-VAE experiment runs"),
        (["--defense", "cnn", "--ray-address", "127.0.0.1:9"],
         "--ray-address: only with --executor ray"),
    ):
        with pytest.raises(SystemExit) as done:
            main(["evaluate", "--out", out, "--profile", "tiny", *args])
        assert done.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    (tmp_path / "whitebox.json").write_text("[]")
    with pytest.raises(SystemExit):
        main(["plot", "curves", str(tmp_path / "whitebox.json"), "--out", str(tmp_path / "c.png")])
    assert "is a file; give the folder that holds it" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_tiny_end_to_end(tmp_path):
    """The tiny profile on the embedded data: trains, attacks and writes every output."""
    out = tmp_path / "out"
    done = _cli("evaluate", "--profile", "tiny", "--dataset", "embedded", "--classifiers", "C3",
                "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    for stem in ("whitebox", "blackbox", "sweep"):
        assert {f"{stem}.json", f"{stem}.csv", f"{stem}.md"} <= names
    assert {"sanity.json", "training.json", "accuracy_vs_epsilon.png"} <= names
    records = json.loads((out / "whitebox.json").read_text())
    assert {"dataset", "classifier", "defense", "attack", "epsilon", "threat_model", "accuracy",
            "n", "seed", "command"} <= set(records[0])  # fmt: skip
    by = {(r["defense"], r["attack"], r["threat_model"]): r["accuracy"] for r in records}
    clean = by[("none", "none", "none")]
    # Attacks lower the undefended classifier's accuracy.
    assert by[("none", "fgsm", "white-box")] < clean - 20
    assert by[("none", "pgd", "white-box")] < clean - 20
    assert {
        ("defense-vae", "pgd", "white-box-adaptive"),
        ("defense-vae-e2e", "fgsm", "gray-box"),
    } <= set(by)
    assert "spikedefense evaluate --profile tiny" in records[0]["command"]
    sanity = json.loads((out / "sanity.json").read_text())["checks"]
    assert sanity and all({"name", "subject", "passed", "detail"} <= set(c) for c in sanity)
    training = json.loads((out / "training.json").read_text())["training"]
    assert training["C3"][0]["seconds"] > 0
    # A second run resumes from the checkpoints instead of training again.
    again = _cli("evaluate", "--profile", "tiny", "--dataset", "embedded", "--classifiers", "C3",
                 "--out", str(out), "--quiet")  # fmt: skip
    assert again.returncode == 0
    assert json.loads((out / "training.json").read_text())["training"]["C3"] == training["C3"]
    # The report command rebuilds the Markdown from the JSON, with NOTES.md and the protocol.
    (out / "NOTES.md").write_text("## Why we differ\n\nTiny sizes.\n")
    before = (out / "whitebox.json").read_text()
    rendered = _cli("report", str(out))
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    text = (out / "whitebox.md").read_text()
    assert "## Why we differ" in text and "## Protocol of this run" in text
    assert "## Sanity checks" in text and "spikedefense evaluate --profile tiny" in text
    assert (out / "whitebox.json").read_text() == before
    missing = _cli("report", str(tmp_path / "nothing"))
    assert missing.returncode != 0 and "no whitebox.json" in missing.stderr


def test_caches_refuse_stale_upstream(tmp_path):
    """Pairs crafted against a classifier trained longer since, or an E2E copy of a VAE trained
    longer since, are refused instead of silently reused."""
    from dataclasses import replace

    from spikedefense.studies.experiment import prepare
    from spikedefense.studies.profiles import make_config

    config = make_config("tiny", "embedded", str(tmp_path / "out"), str(tmp_path / "work"),
                         classifiers=("C3",), classifier_epochs={"C3": 1})  # fmt: skip
    prepare(config, progress=False)
    prepare(config, progress=False)  # same recipe: everything is reused
    with pytest.raises(ValueError, match="classifier_epochs"):
        prepare(replace(config, classifier_epochs={"C3": 2}), progress=False)
    (tmp_path / "work" / "classifier-C3.json").unlink()  # back to a 1-epoch C3
    (tmp_path / "work" / "classifier-C3.safetensors").unlink()
    with pytest.raises(ValueError, match="upstream"):
        prepare(replace(config, vae_epochs=config.vae_epochs + 1), progress=False)
    # A VAE retrained from scratch with another batch size: its E2E copies are stale too.
    for suffix in (".json", ".safetensors"):
        (tmp_path / "work" / f"defense-vae{suffix}").unlink()
    with pytest.raises(ValueError, match="upstream"):
        prepare(replace(config, vae_batch_size=config.vae_batch_size * 2), progress=False)


def test_vae_seed_varies_only_the_defense_vae(tmp_path):
    """``vae_seed`` retrains the Defense-VAE differently on the same classifiers and pairs; left
    at None it is the evaluation seed."""

    from spikedefense.evaluation.resume import module_sha256
    from spikedefense.studies.experiment import prepare
    from spikedefense.studies.profiles import make_config

    def run(name, **changes):
        config = make_config("tiny", "embedded", str(tmp_path / "out"), str(tmp_path / name),
                             classifiers=("C3",), classifier_epochs={"C3": 1}, e2e=False,
                             **changes)  # fmt: skip
        ready = prepare(config, progress=False)
        meta = json.loads((tmp_path / name / "defense-vae.json").read_text())
        return (module_sha256(ready["models"]["C3"]), module_sha256(ready["defenses"]["C3"][0].vae),
                meta["seed"])  # fmt: skip

    default, other = run("a"), run("c", vae_seed=7)
    assert default[2] == 0  # the evaluation seed of the tiny profile
    assert other[0] == default[0]  # the classifier is untouched
    assert other[1] != default[1] and other[2] == 7


def test_evaluate_resumes_after_the_last_finished_classifier(tmp_path, monkeypatch):
    from spikedefense.evaluation import harness

    torch.manual_seed(0)
    models = {"C3": make_classifier("C3").eval(), "C4": make_classifier("C4").eval()}
    vae = ConvVAE(latent_dim=8).eval()
    defenses = {name: [DefenseVAE(vae, m)] for name, m in models.items()}
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    whole = evaluate(models, defenses, x, y, _tiny_config(), progress=False)

    path = tmp_path / "progress.json"
    calls, interrupt = [], {"at": "C4"}
    clean = harness._Runner.clean

    def counted(self, name, *args):
        calls.append(name)
        if name == interrupt["at"]:
            raise KeyboardInterrupt
        return clean(self, name, *args)

    monkeypatch.setattr(harness._Runner, "clean", counted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(models, defenses, x, y, _tiny_config(), progress=False, checkpoint=path)
    assert json.loads(path.read_text())["done"] == ["C3"]
    interrupt["at"] = None
    resumed = evaluate(models, defenses, x, y, _tiny_config(), progress=False, checkpoint=path)
    assert resumed == whole  # the same records, C3's read back rather than recomputed
    assert calls == ["C3", "C4", "C4"]
    # The same run typed another way (only the command differs) resumes: nothing is recomputed
    # and the records keep the command that measured them.
    again = evaluate(models, defenses, x, y, _tiny_config(command="test --quiet"),
                     progress=False, checkpoint=path)  # fmt: skip
    assert again == whole and calls == ["C3", "C4", "C4"]
    # Another evaluation (here: other weights) refuses the file instead of mixing records in.
    with torch.no_grad():
        next(models["C3"].parameters()).add_(1.0)
    with pytest.raises(ValueError, match="another evaluation"):
        evaluate(models, defenses, x, y, _tiny_config(), progress=False, checkpoint=path)
