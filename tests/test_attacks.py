"""spikedefense.attacks: the Attack contract, each method, BPDA/EOT, substitute, sampling.

Everything runs on a small input-BatchNorm + C3 classifier trained for a few seconds on the
embedded MNIST subset, attacked on 64 test images with tiny budgets.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikedefense.attacks import (
    ATTACKS,
    BPDA,
    EOT,
    Attack,
    eval_mode,
    make_attack,
    stratified_indices,
    train_substitute,
)
from spikedefense.data.tensors import load_dataset
from spikedefense.models.classifiers import make_classifier

EPS = 0.3
L2_EPS = 3.0

#: Small budgets that keep each attack well under a second yet strong enough to break the model.
FAST: dict[str, dict[str, Any]] = {
    "fgsm": {},
    "rand-fgsm": {},
    "bim": {"steps": 5},
    "pgd": {"steps": 10, "alpha": 0.05},
    "pgd-l2": {"steps": 10},
    "cw": {"steps": 20},
    "cw-strong": {"steps": 50, "lr": 0.1, "search_steps": 2},
    "apgd-ce": {"steps": 10},
    "apgd-dlr": {"steps": 10},
    "apgd-l2": {"steps": 10},
    "square": {"n_queries": 100},
    "square-l2": {"n_queries": 100},
    "hopskipjump": {"steps": 3, "initial_gradient_eval_steps": 20, "max_gradient_eval_steps": 50},
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Tiny models on a shared 2-core machine: extra threads only add contention.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    return load_dataset("embedded", "test")


@pytest.fixture(scope="module")
def model() -> nn.Module:
    """Input BatchNorm + C3 (dropout): 3 epochs on 1,000 images, about 85 % accuracy."""
    images, labels = load_dataset("embedded", "train")
    images, labels = images[:1000], labels[:1000]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.BatchNorm2d(1), make_classifier("C3"))
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3):
            order = torch.randperm(len(images))
            for first in range(0, len(images), 32):
                index = order[first : first + 32]
                loss = F.cross_entropy(net(images[index]), labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return net.eval()


@pytest.fixture(scope="module")
def batch(test_set: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = test_set
    return images[:64].clone(), labels[:64].clone()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad(), eval_mode(model):
        return float((model(images).argmax(1) == labels).float().mean())


def mixed_mode_copy(model: nn.Module) -> nn.Module:
    """A copy in train mode except one dropout: checks that each flag is restored, not reset."""
    net = copy.deepcopy(model).train()
    next(m for m in net.modules() if isinstance(m, nn.Dropout)).eval()
    return net


def flags(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_untouched(model: nn.Module, state: dict[str, torch.Tensor], modes: list[bool]) -> None:
    assert flags(model) == modes, "training flags not restored"
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), f"{key} changed"
    for p in model.parameters():
        assert p.grad is None and p.requires_grad


# ------------------------------------------------------------------ the contract, per attack


def test_fast_settings_cover_registry() -> None:
    assert set(FAST) == set(ATTACKS)
    assert {"fgsm", "rand-fgsm", "bim", "pgd", "cw", "cw-strong"} <= set(ATTACKS)
    assert {"apgd-ce", "apgd-dlr", "square", "apgd-l2", "square-l2"} <= set(ATTACKS)


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_contract(name: str, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    clean_images, clean_labels = images.clone(), labels.clone()
    net = mixed_mode_copy(model)
    state, modes = snapshot(net), flags(net)
    rng_state = torch.get_rng_state()

    eps = L2_EPS if make_attack(name, EPS).bounded_l2 else EPS  # an L2 ball of radius 0.3 is tiny
    attack = make_attack(name, eps, seed=1, **FAST[name])
    adv = attack(net, images, labels, batch_size=40)  # two batches

    assert torch.equal(torch.get_rng_state(), rng_state), "caller's RNG disturbed"
    assert_untouched(net, state, modes)
    assert torch.equal(images, clean_images) and torch.equal(labels, clean_labels)
    assert adv.shape == images.shape and adv.dtype == images.dtype and adv is not images
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    if attack.norm == "Linf":
        assert float((adv - images).abs().max()) <= EPS + 1e-6
    if attack.bounded_l2:
        assert float((adv - images).flatten(1).norm(dim=1).max()) <= eps + 1e-4
    clean_acc, adv_acc = accuracy(model, images, labels), accuracy(model, adv, labels)
    assert clean_acc > 0.7
    assert adv_acc < 0.5 * clean_acc, (name, clean_acc, adv_acc)
    # Same seed, same result; and the same as attacking an eval-mode copy (dropout and batch
    # statistics were off during the attack).
    assert torch.equal(attack(net, images, labels, batch_size=40), adv)
    reference = copy.deepcopy(model).eval()
    assert torch.equal(
        make_attack(name, eps, seed=1, **FAST[name])(reference, images, labels, batch_size=40), adv
    )


@pytest.mark.parametrize("name", ATTACKS)
def test_params_record_everything(name: str) -> None:
    attack = make_attack(name, 0.25, seed=7)
    params = json.loads(json.dumps(attack.params))
    assert params["attack"] == attack.name == name
    assert params["epsilon"] == attack.epsilon == 0.25
    assert params["seed"] == 7 and params["norm"] == attack.norm
    assert attack.norm == ("L2" if name.startswith("cw") or name.endswith("-l2") else "Linf")
    overridden = make_attack(name, 0.25, **FAST[name])
    for key, value in FAST[name].items():
        assert overridden.params[key] == value
    assert set(overridden.params) == set(params)
    assert isinstance(attack, Attack) and type(attack).__name__ in repr(attack)


def test_documented_defaults() -> None:
    assert make_attack("cw", 0.3).params == {
        "attack": "cw", "epsilon": 0.3, "norm": "L2", "seed": 0,
        "c": 100.0, "kappa": 0.0, "steps": 100, "lr": 10.0,
    }  # fmt: skip
    pgd = make_attack("pgd", 0.3).params
    assert (pgd["steps"], pgd["restarts"]) == (40, 1)
    assert pgd["alpha"] == pytest.approx(pgd["epsilon"] / 16)
    assert make_attack("bim", 0.2).params["alpha"] == pytest.approx(0.02)
    assert make_attack("apgd-dlr", 0.3).params["steps"] == 100
    assert make_attack("square", 0.3).params["n_queries"] == 1000
    assert make_attack("square-l2", 1.5).params["n_queries"] == 1000
    assert make_attack("apgd-l2", 1.5).params["steps"] == 100
    assert make_attack("rand-fgsm", 0.3).params["alpha"] == 0.05
    # Small eps: alpha falls to eps / 2 so the gradient step stays positive.
    assert make_attack("rand-fgsm", 0.04).params["alpha"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="alpha must be < epsilon"):
        make_attack("rand-fgsm", 0.1, alpha=0.1)


def test_rand_fgsm_matches_formula(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(images.shape, generator=gen)
    start = (images + 0.05 * noise.sign()).clamp(0, 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(start), labels), start)
    expected = (start.detach() + (EPS - 0.05) * grad.sign()).clamp(0, 1)
    adv = make_attack("rand-fgsm", EPS, seed=3)(model, images, labels)
    torch.testing.assert_close(adv, expected, atol=1e-6, rtol=0)
    assert not torch.equal(adv, make_attack("rand-fgsm", EPS, seed=4)(model, images, labels))


def test_pgd_restarts_beat_single_step(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    eps = 0.08  # small enough that not every image breaks
    fgsm = accuracy(model, make_attack("fgsm", eps)(model, images, labels), labels)
    one = make_attack("pgd", eps, steps=5, alpha=0.02)(model, images, labels)
    three = make_attack("pgd", eps, steps=5, alpha=0.02, restarts=3)(model, images, labels)
    acc_one, acc_three = accuracy(model, one, labels), accuracy(model, three, labels)
    # The first restart is the single run (same seed), so restarts can only add broken images.
    assert acc_three <= acc_one <= fgsm
    assert acc_three < accuracy(model, images, labels)


def test_cw_is_unbounded(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    adv = make_attack("cw", 0.01, steps=20)(model, images, labels)
    # epsilon is recorded only: the L2 attack moves pixels much further than 0.01.
    assert float((adv - images).abs().max()) > 0.1
    assert accuracy(model, adv, labels) < 0.2


def test_pgd_l2_with_the_whole_box_as_its_ball_breaks_every_image(
    model: nn.Module, batch: tuple[torch.Tensor, ...]
) -> None:
    images, labels = batch
    radius = float(images[0].numel()) ** 0.5
    adv = make_attack("pgd-l2", radius, steps=30, alpha=2.5 * radius / 30)(model, images, labels)
    assert accuracy(model, adv, labels) == 0.0


def test_attack_runs_under_no_grad_and_progress(
    model: nn.Module, batch: tuple[torch.Tensor, ...]
) -> None:
    images, labels = batch
    attack = make_attack("pgd", EPS, steps=3)
    expected = attack(model, images, labels)
    with torch.no_grad():
        got = attack(model, images, labels, progress=True, batch_size=7)
    torch.testing.assert_close(got, expected)


class Wild(Attack):
    """Misbehaves on purpose: leaves the ε-ball and [0, 1] and produces a NaN."""

    name = "wild"

    def _perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        out = x + 3 * torch.randn(x.shape, generator=rng)
        out[0, 0, 0, 0] = float("nan")
        return out


def test_base_projects_and_clips(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    wild = Wild(0.1)
    with pytest.warns(RuntimeWarning, match="NaN/inf"):
        adv = wild(model, images, labels, batch_size=len(images) // 2)
    assert wild.nonfinite == 2  # one image per batch
    assert float((adv - images).abs().max()) <= 0.1 + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert adv[0, 0, 0, 0] == images[0, 0, 0, 0]  # non-finite values fall back to the clean pixel
    assert float((adv - images).abs().max()) > 0.09


# ------------------------------------------------------------------ bad input


def test_make_attack_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown attack 'nope'.*pgd.*square"):
        make_attack("nope", 0.3)
    for eps in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="epsilon"):
            make_attack("fgsm", eps)
    with pytest.raises(TypeError, match="epsilon"):
        make_attack("fgsm", "0.3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epsilon must be at most 1 for an L∞ attack"):
        make_attack("pgd", 3.0)
    assert make_attack("pgd", 1.0).epsilon == 1.0
    with pytest.raises(TypeError, match="'pgd'.*unknown hyper-parameter.*stepz.*restarts"):
        make_attack("pgd", 0.3, stepz=3)
    with pytest.raises(TypeError, match="'fgsm'.*accepted: \\(none\\)"):
        make_attack("fgsm", 0.3, steps=3)
    with pytest.raises(ValueError, match="steps"):
        make_attack("pgd", 0.3, steps=0)
    with pytest.raises(TypeError, match="steps"):
        make_attack("pgd", 0.3, steps=2.5)
    with pytest.raises(ValueError, match="alpha"):
        make_attack("pgd", 0.3, alpha=float("nan"))
    with pytest.raises(ValueError, match="loss"):
        make_attack("square", 0.3, loss="hinge")
    with pytest.raises(ValueError, match="seed"):
        make_attack("pgd", 0.3, seed=-1)


def _bad_inputs(
    images: torch.Tensor, labels: torch.Tensor
) -> list[tuple[str, object, object, type, str]]:
    nan = images.clone()
    nan[0, 0, 0, 0] = float("nan")
    wrong = labels.clone()
    wrong[3] = 10
    return [
        ("3-D images", images[:, 0], labels, ValueError, "images: expected shape"),
        ("empty batch", images[:0], labels[:0], ValueError, "N >= 1"),
        ("values above 1", images * 2 + 0.01, labels, ValueError, r"images: expected values in"),
        ("negative values", images - 0.5, labels, ValueError, r"images: expected values in"),
        ("NaN", nan, labels, ValueError, "images: contains NaN"),
        ("uint8 images", (images * 255).to(torch.uint8), labels, TypeError, "floating-point"),
        ("list images", images.tolist(), labels, TypeError, "images: expected a torch.Tensor"),
        ("label 10", images, wrong, ValueError, r"labels: expected values in \[0, 10\)"),
        ("label -1", images, labels - 1, ValueError, r"labels: expected values in \[0, 10\)"),
        ("int32 labels", images, labels.int(), TypeError, "labels: expected dtype torch.int64"),
        ("float labels", images, labels.float(), TypeError, "labels: expected dtype"),
        ("short labels", images, labels[:-1], ValueError, r"labels: expected shape \[64\]"),
    ]


def test_call_rejects_bad_input(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    attack = make_attack("pgd", EPS, steps=2)
    net = mixed_mode_copy(model)
    state, modes = snapshot(net), flags(net)
    rng_state = torch.get_rng_state()
    for what, x, y, error, message in _bad_inputs(images, labels):
        before = [t.clone() for t in (x, y) if isinstance(t, torch.Tensor)]
        with pytest.raises(error, match=message):
            attack(net, x, y)  # type: ignore[arg-type]
        after = [t for t in (x, y) if isinstance(t, torch.Tensor)]
        for a, b in zip(before, after, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=what)
        assert_untouched(net, state, modes)
    assert torch.equal(torch.get_rng_state(), rng_state)
    with pytest.raises(ValueError, match="batch_size"):
        attack(net, images, labels, batch_size=0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        attack(lambda x: x, images, labels)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model must return logits"):
        attack(nn.Identity(), images, labels)


def test_missing_library_names_pip_package(
    monkeypatch: pytest.MonkeyPatch, model: nn.Module, batch: tuple[torch.Tensor, ...]
) -> None:
    monkeypatch.setitem(sys.modules, "torchattacks", None)
    with pytest.raises(ImportError, match="pip install torchattacks"):
        make_attack("pgd", EPS)(model, *batch)


def test_import_is_lazy() -> None:
    code = (
        "import sys, spikedefense.attacks as A\n"
        "assert 'torchattacks' not in sys.modules and 'foolbox' not in sys.modules\n"
        "atk = A.make_attack('pgd', 0.3)\n"
        "assert 'torchattacks' not in sys.modules and 'foolbox' not in sys.modules\n"
        "print(A.ATTACKS[0])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fgsm"


# ------------------------------------------------------------------ eval_mode, BPDA, EOT


def test_eval_mode_restores_each_flag_on_error(model: nn.Module) -> None:
    net = mixed_mode_copy(model)
    modes = flags(net)
    with pytest.raises(RuntimeError, match="boom"), eval_mode(net):
        assert not any(flags(net))
        raise RuntimeError("boom")
    assert flags(net) == modes


def test_bpda_value_and_straight_through_gradient() -> None:
    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    out = BPDA(torch.round)(x)
    assert torch.equal(out, torch.round(x))
    (grad,) = torch.autograd.grad((out * torch.arange(6.0)).sum(), x)
    assert torch.equal(grad, torch.arange(6.0).expand(4, 6))  # identity backward


def test_bpda_uses_surrogate_gradient() -> None:
    x = torch.rand(5, 3, generator=torch.Generator().manual_seed(1)).requires_grad_(True)

    def binarise(t: torch.Tensor) -> torch.Tensor:
        return (t > 0.5).float()

    def smooth(t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(10 * (t - 0.5))

    out = BPDA(binarise, smooth)(x)
    assert torch.equal(out, binarise(x))
    (grad,) = torch.autograd.grad(out.sum(), x)
    (expected,) = torch.autograd.grad(smooth(x).sum(), x)
    torch.testing.assert_close(grad, expected)
    with pytest.raises(ValueError, match="shape"):
        BPDA(lambda t: t.sum(1))(x)
    with pytest.raises(TypeError, match="forward must be callable"):
        BPDA(3)  # type: ignore[arg-type]


class Round(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)


def test_bpda_defeats_gradient_masking(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> None:
    images, labels = batch
    attack = make_attack("pgd", EPS, steps=10, alpha=0.05, random_start=False)
    masked = nn.Sequential(Round(), model)
    # torch.round has zero gradient: plain PGD cannot move; BPDA restores a useful gradient.
    assert torch.equal(attack(masked, images, labels), images)
    wrapped = nn.Sequential(BPDA(Round()), model)
    # Rounding is a real (if weak) defense at ε = 0.3: pixels far from 0.5 cannot flip.
    clean = accuracy(masked, images, labels)
    assert accuracy(masked, attack(wrapped, images, labels), labels) < clean - 0.2


class BernoulliMask(nn.Module):
    """Keeps each input with probability 1/2: a stochastic layer with a known expectation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.rand_like(x) < 0.5).to(x.dtype)


def test_eot_averages_samples() -> None:
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    noisy = BernoulliMask()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        masks = [(torch.rand(3, 4) < 0.5).float() for _ in range(5)]
        torch.manual_seed(0)
        out = EOT(noisy, samples=5)(x)
    expected_mask = torch.stack(masks).mean(0)
    torch.testing.assert_close(out, x * expected_mask)
    (grad,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(grad, expected_mask)  # the EOT average gradient
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="samples must be a positive int"):
            EOT(noisy, samples=bad)  # type: ignore[arg-type]


def test_attack_on_stochastic_model_is_seeded(
    model: nn.Module, batch: tuple[torch.Tensor, ...]
) -> None:
    images, labels = batch
    robust = EOT(nn.Sequential(BernoulliMask(), model), samples=2)
    attack = make_attack("pgd", EPS, steps=3)
    first = attack(robust, images, labels)
    assert torch.equal(first, attack(robust, images, labels))
    assert not torch.equal(first, make_attack("pgd", EPS, steps=3, seed=1)(robust, images, labels))


# ------------------------------------------------------------------ substitute, sampling


def test_train_substitute(model: nn.Module, test_set: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = test_set
    seeds = images[stratified_indices(labels, 20, seed=0)]
    queried: list[int] = []

    def oracle(x: torch.Tensor) -> torch.Tensor:
        queried.append(len(x))
        return model(x).argmax(1)

    rng_state = torch.get_rng_state()
    sub = train_substitute(oracle, seeds, rounds=2, epochs=5, batch_size=16)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert sum(queried) == 20 * 2**2  # the set doubled twice; every image labelled once
    assert isinstance(sub, nn.Module) and not any(flags(sub))
    with torch.no_grad():
        agree = float((sub(seeds).argmax(1) == oracle(seeds)).float().mean())
    assert agree > 0.5  # chance is 0.1
    again = train_substitute(oracle, seeds, rounds=2, epochs=5, batch_size=16)
    for a, b in zip(sub.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="oracle must return int64"):
        train_substitute(lambda x: model(x), seeds, rounds=0, epochs=1)
    with pytest.raises(ValueError, match="lam"):
        train_substitute(oracle, seeds, lam=-0.1)


def test_stratified_indices(test_set: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, labels = test_set
    idx = stratified_indices(labels, 150, seed=0)
    assert idx.dtype == torch.int64 and len(idx) == 150 and len(set(idx.tolist())) == 150
    assert torch.equal(idx, idx.sort().values)
    counts = torch.bincount(labels[idx], minlength=10)
    assert int(counts.max() - counts.min()) <= 1
    assert torch.equal(idx, stratified_indices(labels, 150, seed=0))
    assert not torch.equal(idx, stratified_indices(labels, 150, seed=1))
    skewed = torch.tensor([0] * 3 + [1] * 20 + [2] * 20)
    picked = torch.bincount(skewed[stratified_indices(skewed, 13)], minlength=3)
    assert picked.tolist() in ([3, 5, 5],)
    for bad in (0, 44):
        with pytest.raises(ValueError, match="n: expected an int >= 1 and <= 43"):
            stratified_indices(skewed, bad)
    with pytest.raises(TypeError, match="1-D integer"):
        stratified_indices(skewed.float(), 5)


@pytest.mark.parametrize("name", ["cw", "cw-strong"])
def test_cw_breaks_a_model_with_all_negative_logits(name):
    # torchattacks' own CW margin reads negative logits as 0 and gives up on this model.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        model[1].bias -= 50.0
    x = torch.rand(16, 1, 28, 28)
    y = model(x).argmax(1)
    adversarial = make_attack(name, 0.3, steps=50)(model, x, y)
    assert (model(adversarial).argmax(1) != y).all()
