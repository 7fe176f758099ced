"""Papernot black-box substitute training with Jacobian-based dataset augmentation.

Paper: Papernot et al., "Practical Black-Box Attacks against Machine Learning", AsiaCCS 2017,
Algorithm 1; the seed's Table 5 protocol (150 seed images, 6 rounds, λ = 0.1, substitute C4).
The attacker sees only the deployed model's predicted labels (the ``oracle``). Starting from
``S_0`` = the seed images, for ρ = 0, 1, ..., ``rounds``::

    label   y = oracle(S_ρ)
    train   F on (S_ρ, y)            (warm start from the previous round, fresh Adam)
    augment S_{ρ+1} = S_ρ ∪ {clip(x + λ_ρ · sign(∂F(x)[y(x)] / ∂x), 0, 1) : x ∈ S_ρ}
            (skipped after the last training)

so the set doubles ``rounds`` times and the returned substitute was trained last on
``len(seed_images) · 2^rounds`` images (150 · 2^6 = 9,600 for the protocol, the paper's
"ρ = 6" row). ``F(x)[y]`` is the substitute's logit of the oracle's label. cleverhans'
``mnist_blackbox(data_aug=6)``, used by Defense-GAN, trains 6 times on up to 150 · 2^5 images,
i.e. our ``rounds=5``. λ_ρ = λ by default (Algorithm 1); ``tau`` switches on the paper's
periodic step size λ_ρ = λ · (−1)^⌊ρ/τ⌋ (cleverhans uses τ = 3 with the opposite sign).

Training per round: ``epochs`` passes of Adam (``lr``, default 1e-3) over shuffled batches of
``batch_size`` (default 128), cross-entropy, as in cleverhans / Defense-GAN. The oracle is
queried in chunks of ``oracle_batch`` images under ``torch.no_grad``. Everything is seeded
by ``seed`` inside a forked RNG (the caller's global RNG state is left as it was).

Shapes: ``seed_images`` ``[N, C, H, W]`` in [0, 1]; ``oracle(x)`` -> int64 ``[B]``.

Example:
    >>> sub = train_substitute(lambda x: model(x).argmax(1), seeds)  # doctest: +SKIP
    >>> x_adv = make_attack("fgsm", 0.3)(sub, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validate import check_images, check_int
from .base import eval_mode

__all__ = ["train_substitute"]


def _query(oracle: Callable[[Tensor], Tensor], x: Tensor, chunk: int) -> Tensor:
    parts = []
    with torch.no_grad():
        for first in range(0, x.shape[0], chunk):
            batch = x[first : first + chunk]
            out = oracle(batch)
            if (
                not isinstance(out, Tensor)
                or out.dtype != torch.int64
                or out.shape != (batch.shape[0],)
            ):
                got = (out.dtype, tuple(out.shape)) if isinstance(out, Tensor) else type(out)
                raise ValueError(
                    f"oracle must return int64 labels of shape [{batch.shape[0]}] for a batch "
                    f"of {batch.shape[0]} images, got {got}"
                )
            parts.append(out.to(x.device))
    return torch.cat(parts)


def _train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    gen: torch.Generator,
) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen).to(x.device)
        for first in range(0, x.shape[0], batch_size):
            index = order[first : first + batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    model.eval()


def _augment(model: nn.Module, x: Tensor, y: Tensor, lam: float, chunk: int) -> Tensor:
    # sign(∂F(x)[y] / ∂x): the direction in which the substitute's output for the oracle's
    # label varies most, i.e. towards (λ < 0: across) the decision boundary it must learn.
    new = []
    with eval_mode(model):
        for first in range(0, x.shape[0], chunk):
            xb = x[first : first + chunk].clone().requires_grad_(True)
            logits = model(xb)
            picked = logits.gather(1, y[first : first + chunk, None]).sum()
            (grad,) = torch.autograd.grad(picked, xb)
            new.append((xb.detach() + lam * grad.sign()).clamp(0.0, 1.0))
    return torch.cat(new)


def train_substitute(
    oracle: Callable[[Tensor], Tensor],
    seed_images: Tensor,
    *,
    architecture: str = "C4",
    rounds: int = 6,
    lam: float = 0.1,
    epochs: int = 10,
    seed: int = 0,
    progress: bool = False,
    batch_size: int = 128,
    lr: float = 1e-3,
    tau: int | None = None,
    oracle_batch: int = 1000,
) -> nn.Module:
    """Train a Papernot substitute of the black box ``oracle`` (see the module docstring).

    Args:
        oracle: ``x [B, C, H, W] -> int64 [B]`` predicted labels of the deployed model.
        seed_images: the attacker's initial images ``[N, C, H, W]`` in [0, 1] (protocol: 150
            class-balanced test images, see :func:`stratified_indices`).
        architecture: ``"C1"`` ... ``"C4"`` of :func:`spikedefense.models.make_classifier`.
        rounds: Jacobian augmentation rounds (the set doubles each round).
        lam: augmentation step λ, pixel units.
        epochs: training epochs per round.
        seed: seeds initialisation, shuffling and dropout.
        progress: show a tqdm bar over the rounds.
        batch_size, lr: Adam training batch size and learning rate.
        tau: period of the sign flip of λ (None: constant λ as in Algorithm 1).
        oracle_batch: images per oracle query chunk.

    Returns:
        The trained substitute, in eval mode, on ``seed_images.device``; logits ``[B, 10]``.
    """
    from tqdm.auto import tqdm

    from ..models.classifiers import make_classifier

    if not callable(oracle):
        raise TypeError(f"oracle must be callable, got {type(oracle).__name__}")
    check_images(seed_images, "seed_images")
    rounds = check_int("rounds", rounds, 0)
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    oracle_batch = check_int("oracle_batch", oracle_batch, 1)
    seed = check_int("seed", seed, 0)
    if tau is not None:
        tau = check_int("tau", tau, 1)
    for name, value in (("lam", lam), ("lr", lr)):
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(float(value)) or float(value) <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")

    device = seed_images.device
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = make_classifier(architecture).to(device)
        x = seed_images.detach().clone()
        y = _query(oracle, x, oracle_batch)
        for rho in tqdm(range(rounds + 1), desc="substitute", disable=not progress):
            _train(model, x, y, epochs=epochs, batch_size=batch_size, lr=float(lr), gen=gen)
            if rho == rounds:
                break
            step = float(lam) * (-1.0) ** (rho // tau) if tau is not None else float(lam)
            x_new = _augment(model, x, y, step, oracle_batch)
            x = torch.cat([x, x_new])
            y = torch.cat([y, _query(oracle, x_new, oracle_batch)])
    return model.eval()
