"""Defense-VAE end to end on a small trained model: pairs, purification, attacks, eval mode."""

from __future__ import annotations

import pytest
import torch

from spikedefense.attacks import make_attack
from spikedefense.data import load_dataset
from spikedefense.defenses import (
    DefenseVAE,
    NoDefense,
    SurfaceModule,
    finetune_e2e,
    make_training_pairs,
)
from spikedefense.models import ConvVAE, accuracy, make_classifier, train_classifier, train_vae


@pytest.fixture(scope="module")
def trained():
    """C3 and a Defense-VAE trained on FGSM/RAND+FGSM pairs of 600 embedded images (~15 s)."""
    x, y = load_dataset("embedded", "train")
    x, y = x[:1500], y[:1500]
    torch.manual_seed(0)
    clf = make_classifier("C3")
    train_classifier(clf, x, y, epochs=3, seed=0, progress=False)
    pairs = make_training_pairs(clf, x[:600], y[:600], attacks=["fgsm", "rand-fgsm"],
                                progress=False)  # fmt: skip
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=32)
    train_vae(vae, pairs.adversarial, x[pairs.source], epochs=2, batch_size=32, seed=0,
              progress=False)  # fmt: skip
    xt, yt = load_dataset("embedded", "test")
    return clf, vae, pairs, x, y, xt[:200], yt[:200]


def test_pairs_are_many_to_one(trained):
    _, _, pairs, x, _, _, _ = trained
    assert len(pairs.adversarial) == 600 * 9  # clean + 2 attacks x 4 epsilons
    assert pairs.kind.count("clean") == 600 and pairs.kind.count("fgsm@0.3") == 600
    delta = (pairs.adversarial - x[pairs.source]).abs().flatten(1).amax(1)
    for kind, eps in (("fgsm@0.2", 0.2), ("rand-fgsm@0.35", 0.35)):
        rows = torch.tensor([k == kind for k in pairs.kind])
        assert (delta[rows] <= eps + 1e-6).all() and delta[rows].mean() > eps / 2


def test_cw_pairs_projected_per_epsilon():
    clf = make_classifier("C4").eval()
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    pairs = make_training_pairs(clf, x, y, attacks=["cw"], cw_limit=4, include_clean=False,
                                attack_overrides={"cw": {"steps": 5}}, progress=False)  # fmt: skip
    assert pairs.kind == [f"cw@{e:g}" for e in (0.2, 0.25, 0.3, 0.35) for _ in range(4)]
    delta = (pairs.adversarial - x[pairs.source]).abs().flatten(1).amax(1)
    assert (delta[:4] <= 0.2 + 1e-6).all()


def test_defense_vae_raises_fgsm_accuracy(trained):
    clf, vae, _, _, _, xt, yt = trained
    adversarial = make_attack("fgsm", 0.3)(clf, xt, yt)
    undefended = accuracy(clf, adversarial, yt)
    defense = DefenseVAE(vae, clf)
    defended = 100.0 * (defense.predict(adversarial) == yt).float().mean().item()
    assert undefended < 30.0
    assert defended > undefended + 20.0


def test_adaptive_attack_at_least_as_strong_as_gray_box(trained):
    clf, vae, _, _, _, xt, yt = trained
    defense = DefenseVAE(vae, clf)
    gray = make_attack("pgd", 0.3, steps=10)(clf, xt, yt)
    adaptive = make_attack("pgd", 0.3, steps=10)(SurfaceModule(defense), xt, yt)
    gray_acc = (defense.predict(gray) == yt).float().mean().item()
    adaptive_acc = (defense.predict(adaptive) == yt).float().mean().item()
    assert adaptive_acc <= gray_acc


def test_purify_uses_eval_mode_and_keeps_batchnorm(trained):
    clf, vae, _, _, _, xt, _ = trained
    vae.train()
    buffers = {k: v.clone() for k, v in vae.state_dict().items()}
    defense = DefenseVAE(vae, clf)
    purified = defense.purify(xt[:8])
    make_attack("fgsm", 0.3)(SurfaceModule(defense), xt[:8], torch.zeros(8, dtype=torch.long))
    assert vae.training  # the caller's mode comes back
    assert all(torch.equal(v, vae.state_dict()[k]) for k, v in buffers.items())
    vae.eval()
    assert torch.equal(purified, vae.reconstruct(xt[:8]))


def test_e2e_finetune_changes_both(trained):
    clf, vae, pairs, x, y, xt, yt = trained
    import copy

    vae2, clf2 = copy.deepcopy(vae), copy.deepcopy(clf)
    rows = torch.arange(0, len(pairs.source), 9)
    history = finetune_e2e(vae2, clf2, pairs.adversarial[rows], x[pairs.source[rows]],
                           y[pairs.source[rows]], epochs=1, progress=False)  # fmt: skip
    assert {"loss", "vae_loss", "ce"} <= set(history[0])
    assert not torch.equal(clf2[1].weight, clf[1].weight)
    assert not torch.equal(vae2.fc_mu.weight, vae.fc_mu.weight)
    assert not vae2.training and not clf2.training


def test_no_defense_is_identity():
    clf = make_classifier("C4").eval()
    x = torch.rand(3, 1, 28, 28)
    defense = NoDefense(clf)
    assert torch.equal(defense.purify(x), x)
    assert torch.equal(defense.predict(x), clf(x).argmax(1))


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [(torch.rand(2, 28, 28), ValueError, "shape"),
     (torch.rand(2, 1, 28, 28) + 1, ValueError, r"\[0, 1\]"),
     (torch.full((2, 1, 28, 28), float("nan")), ValueError, "NaN"),
     (torch.zeros(0, 1, 28, 28), ValueError, "shape"),
     (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), TypeError, "floating"),
     ([[0.0]], TypeError, "torch.Tensor")],
)  # fmt: skip
def test_defense_bad_input(x, error, match):
    defense = DefenseVAE(ConvVAE(latent_dim=4), make_classifier("C4"))
    with pytest.raises(error, match=match):
        defense.predict(x)
    with pytest.raises(error, match=match):
        defense.purify(x)


def test_defense_bad_construction():
    with pytest.raises(TypeError, match="ConvVAE"):
        DefenseVAE(make_classifier("C4"), make_classifier("C4"))
    with pytest.raises(ValueError, match="classifiers is empty"):
        make_training_pairs([], torch.rand(2, 1, 28, 28), torch.arange(2))
    with pytest.raises(ValueError, match="unknown pair attacks"):
        make_training_pairs(make_classifier("C4"), torch.rand(2, 1, 28, 28), torch.arange(2),
                            attacks=["pgd"])  # fmt: skip


def test_defense_vae_entries_build_by_name_and_resume(tmp_path) -> None:
    """The three Defense-VAE entries build on one C1, one set of pairs and one VAE; a second
    build resumes from the checkpoints (same weights), and sleep changes the VAE."""
    from spikedefense.attacks import stratified_indices
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec

    x, y = load_dataset("embedded", "train")
    keep = stratified_indices(y, 300, seed=0)
    context = BuildContext("embedded", (x[keep], y[keep]), (x[:50], y[:50]), tmp_path, seed=0,
                           epochs=1, progress=False)  # fmt: skip
    built = {n: defense_spec(n).build(context)
             for n in ("defense-vae", "defense-vae-e2e", "defense-vae-sleep")}  # fmt: skip
    assert {n: d.name for n, d in built.items()} == {n: n for n in built}
    assert all(d.kind == "purifier" and d.classifier_name == "C1" for d in built.values())
    plain, e2e, slept = built.values()
    assert slept.classifier is plain.classifier and e2e.classifier is not plain.classifier

    def same(a, b) -> bool:  # type: ignore[no-untyped-def]
        return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                     b.state_dict().values(), strict=True))

    assert not same(slept.vae, plain.vae) and not same(e2e.vae, plain.vae)
    work = tmp_path / "defense-vae"
    assert (work / "pairs.safetensors").is_file() and (work / "classifier-C1.json").is_file()
    from spikedefense.defenses import defense_vae_build

    defense_vae_build._BUILT.clear()  # as a new process: from the checkpoints
    again = defense_spec("defense-vae").build(context)
    assert again.vae is not plain.vae
    assert same(again.vae, plain.vae) and same(again.classifier, plain.classifier)
    probe = x[:4]
    assert torch.equal(again.predict(probe), plain.predict(probe))
