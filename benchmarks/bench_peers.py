"""The peer implementations the kernels are compared with: snnTorch, Norse and plain PyTorch.

Each ``make_*`` function prepares tensors and modules outside the timed region and returns a
callable that runs the timed work and returns the output spikes (uint8 tensors). The callables run
under ``torch.inference_mode()`` as a user would run inference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

#: Norse's box LIF integrates ``v += dt * tau_mem_inv * (i - v)``: with dt*tau_mem_inv = 1 - beta
#: it is ``v = beta*v + (1 - beta)*i``, so the peer is fed ``currents / (1 - beta)``.
NORSE_DT = 1e-3


def _norse_cell(beta: float, threshold: float) -> tuple[Any, float]:
    import norse.torch as norse

    tau_mem_inv = (1.0 - beta) / NORSE_DT
    params = norse.LIFBoxParameters(tau_mem_inv=torch.as_tensor(tau_mem_inv),
                                    v_th=torch.as_tensor(threshold),
                                    v_reset=torch.as_tensor(0.0), v_leak=torch.as_tensor(0.0))
    return norse.LIFBoxCell(p=params, dt=NORSE_DT), 1.0 / (1.0 - beta)


def _snntorch_leaky(beta: float, threshold: float) -> Any:
    import snntorch

    return snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="zero")


def make_lif_snntorch(currents: np.ndarray, beta: float, threshold: float,
                      device: str) -> Callable[[], torch.Tensor]:
    """snnTorch ``Leaky`` stepped over T in a Python loop, state carried across steps."""
    cur = torch.from_numpy(currents).to(device)
    lif = _snntorch_leaky(beta, threshold).to(device)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            out = torch.empty(cur.shape, dtype=torch.uint8, device=device)
            mem = torch.zeros_like(cur[0])
            for t in range(cur.shape[0]):
                spk, mem = lif(cur[t], mem)
                out[t] = spk
            return out

    return run


def make_lif_norse(currents: np.ndarray, beta: float, threshold: float,
                   device: str) -> Callable[[], torch.Tensor]:
    """Norse ``LIFBoxCell`` stepped over T, state carried; currents rescaled outside timing."""
    cell, scale = _norse_cell(beta, threshold)
    cur = (torch.from_numpy(currents) * scale).to(device)
    cell = cell.to(device)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            out = torch.empty(cur.shape, dtype=torch.uint8, device=device)
            state = None
            for t in range(cur.shape[0]):
                spk, state = cell(cur[t], state)
                out[t] = spk
            return out

    return run


def make_dense_snntorch(spikes: np.ndarray, weight: np.ndarray, beta: float, threshold: float,
                        device: str) -> Callable[[], torch.Tensor]:
    """``nn.Linear(N_in, N_out, bias=False)`` + snnTorch ``Leaky`` per step, batch 1."""
    inp = torch.from_numpy(spikes.astype(np.float32)).to(device).unsqueeze(1)  # [T, 1, N_in]
    fc = nn.Linear(weight.shape[1], weight.shape[0], bias=False).to(device)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
    lif = _snntorch_leaky(beta, threshold).to(device)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            out = torch.empty((inp.shape[0], weight.shape[0]), dtype=torch.uint8, device=device)
            mem = torch.zeros((1, weight.shape[0]), device=device)
            for t in range(inp.shape[0]):
                spk, mem = lif(fc(inp[t]), mem)
                out[t] = spk[0]
            return out

    return run


def make_dense_norse(spikes: np.ndarray, weight: np.ndarray, beta: float, threshold: float,
                     device: str) -> Callable[[], torch.Tensor]:
    """``nn.Linear`` + Norse ``LIFBoxCell`` per step; the Linear holds ``weight / (1 - beta)``."""
    cell, scale = _norse_cell(beta, threshold)
    inp = torch.from_numpy(spikes.astype(np.float32)).to(device).unsqueeze(1)
    fc = nn.Linear(weight.shape[1], weight.shape[0], bias=False).to(device)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)) * scale)
    cell = cell.to(device)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            out = torch.empty((inp.shape[0], weight.shape[0]), dtype=torch.uint8, device=device)
            state = None
            for t in range(inp.shape[0]):
                spk, state = cell(fc(inp[t]), state)
                out[t] = spk[0]
            return out

    return run


# ------------------------------------------------------------------ (c) the sleep-like step ----

def first_spike_torch(fired: torch.Tensor) -> torch.Tensor:
    """bool ``[T, ...]`` -> int64 ``[...]``: step of the first True, -1 where there is none."""
    any_fired = fired.any(dim=0)
    first = fired.to(torch.uint8).argmax(dim=0)  # first maximal index
    return torch.where(any_fired, first, torch.full_like(first, -1))


def kwta_torch(pot: torch.Tensor, first: torch.Tensor, k: int, radius: int) -> list[tuple]:
    """k-WTA loop: one winner per map, a (2r+1)^2 window inhibited across maps.

    Order: earliest first spike, then highest potential, then lowest flat index (argmax returns
    the first maximal element), exactly the rule of DESIGN.md section 3.
    """
    _, height, width = pot.shape
    available = first >= 0
    big = torch.iinfo(first.dtype).max
    neg_inf = torch.tensor(float("-inf"), dtype=pot.dtype, device=pot.device)
    winners: list[tuple] = []
    for _ in range(k):
        if not bool(available.any()):
            break
        earliest = torch.where(available, first, torch.full_like(first, big)).min()
        score = torch.where(available & (first == earliest), pot, neg_inf)
        flat = int(torch.argmax(score))
        c, y, x = flat // (height * width), (flat // width) % height, flat % width
        winners.append((c, y, x))
        available[c] = False
        available[:, max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1] = False
    return winners


def stdp_torch(weight: torch.Tensor, pre_first: torch.Tensor, post_first: torch.Tensor,
               winners: list[tuple], padding: int, a_plus: float,
               a_minus: float) -> torch.Tensor:
    """STDP on each winner's receptive field (stride 1): causal iff 0 <= t_pre <= t_post.

    Padding positions hold -1 (never fired), so they take the acausal update.
    """
    k = weight.shape[-1]
    padded = F.pad(pre_first, (padding, padding, padding, padding), value=-1)
    new = weight.clone()
    for c, y, x in winners:
        field = padded[:, y:y + k, x:x + k]
        t_post = post_first[c, y, x]
        causal = (field >= 0) & (field <= t_post)
        lr = torch.where(causal, a_plus, a_minus).to(new.dtype)
        w = new[c]
        new[c] = w + lr * w * (1 - w)
    return new


def make_sleep_torch(weight: np.ndarray, threshold: float, k: int, radius: int, padding: int,
                     a_plus: float, a_minus: float,
                     device: str) -> Callable[[torch.Tensor], dict[str, Any]]:
    """SpykeTorch-style sleep step on given spikes ``[T, 1, H, W]`` (float 0/1 tensor)."""
    w0 = torch.from_numpy(weight).to(device)

    def step(spikes: torch.Tensor) -> dict[str, Any]:
        with torch.inference_mode():
            pot = torch.cumsum(F.conv2d(spikes, w0, padding=padding), dim=0)  # [T, C, H, W]
            post_first = first_spike_torch(pot >= threshold)
            ranking = pot.gather(0, post_first.clamp(min=0).unsqueeze(0))[0]
            pre_first = first_spike_torch(spikes[:, 0] > 0).unsqueeze(0)  # [1, H, W]
            winners = kwta_torch(ranking, post_first, k, radius)
            new_w = stdp_torch(w0, pre_first, post_first, winners, padding, a_plus, a_minus)
            return {"winners": winners, "weight": new_w, "post_first": post_first}

    return step


def torch_encode(p: np.ndarray, steps: int, gain: float, seed: int,
                 device: str) -> Callable[[], torch.Tensor]:
    """Bernoulli encoding with torch's generator (for timing only: its draws differ from ours)."""
    probs = torch.from_numpy(np.clip(gain * p, 0, 1).astype(np.float32)).to(device)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)

    def encode() -> torch.Tensor:
        with torch.inference_mode():
            draws = torch.rand((steps, *probs.shape), generator=gen, device=device)
            return (draws < probs).to(torch.float32).unsqueeze(1)

    return encode
