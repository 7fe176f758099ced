"""Agreement checks run outside the timed regions: ours against the peers' outputs."""

from __future__ import annotations

from typing import Any

import numpy as np


def _host(array: Any) -> np.ndarray:
    if hasattr(array, "copy_to_host"):
        return array.copy_to_host()
    if hasattr(array, "detach"):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def spikes_vs_snntorch(ours: Any, peer: Any, currents: np.ndarray, beta: float,
                       threshold: float) -> dict[str, Any]:
    """Compare two zero-reset LIF spike trains computed from the same currents ``[T, ...]``.

    Ours fires on ``v >= threshold``, snnTorch on ``v > threshold``; with identical currents the
    trains can differ only from a step where ``v == threshold`` exactly. Every neuron whose trains
    differ is replayed in NumPy float32 (``v = beta*v + I``, the kernel's arithmetic) up to its
    first differing step, where the potential must equal the threshold for the difference to be
    explained by a tie.
    """
    o = _host(ours).reshape(currents.shape[0], -1).astype(np.uint8)
    p = _host(peer).reshape(currents.shape[0], -1).astype(np.uint8)
    cur = currents.reshape(currents.shape[0], -1)
    differ = o != p
    bad = np.flatnonzero(differ.any(axis=0))
    explained = 0
    if bad.size:
        first_diff = differ[:, bad].argmax(axis=0)
        v = np.zeros(bad.size, dtype=cur.dtype)
        at_diff = np.zeros(bad.size, dtype=cur.dtype)
        b, thr = cur.dtype.type(beta), cur.dtype.type(threshold)
        for t in range(int(first_diff.max()) + 1):
            v = b * v + cur[t, bad]
            hit = first_diff == t
            at_diff[hit] = v[hit]
            v = np.where(v >= thr, cur.dtype.type(0), v)
        explained = int(np.count_nonzero(at_diff == thr))
    return {
        "agreement": float(1.0 - differ.mean()),
        "spikes_ours": int(o.sum()),
        "spikes_peer": int(p.sum()),
        "neurons_differing": int(bad.size),
        "differences_at_exact_ties": explained,
        "equal_except_ties": explained == bad.size,
    }


def spikes_agreement(ours: Any, peer: Any) -> dict[str, Any]:
    """Element-wise agreement of two spike trains (for peers with different rounding)."""
    o, p = _host(ours).astype(np.uint8).ravel(), _host(peer).astype(np.uint8).ravel()
    return {"agreement": float(np.mean(o == p)), "spikes_ours": int(o.sum()),
            "spikes_peer": int(p.sum())}


def sleep_step(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Winners (in selection order) and updated weights of the sleep step."""
    ours_w = [tuple(int(v) for v in row) for row in _host(ours["winners"]).reshape(-1, 3)]
    peer_w = [tuple(int(v) for v in row) for row in peer["winners"]]
    wo, wp = _host(ours["weight"]), _host(peer["weight"])
    post_o, post_p = _host(ours["post_first"]), _host(peer["post_first"])
    return {
        "winners_ours": [list(w) for w in ours_w],
        "winners_peer": [list(w) for w in peer_w],
        "n_winners": len(ours_w),
        "winners_equal": ours_w == peer_w,
        "post_first_spike_equal": bool(np.array_equal(post_o, post_p)),
        "weights_allclose": bool(np.allclose(wo, wp, rtol=1e-6, atol=1e-7)),
        "weights_bit_equal": bool(np.array_equal(wo, wp)),
        "max_abs_weight_diff": float(np.max(np.abs(wo.astype(np.float64) - wp))),
        "weights_changed": int(np.count_nonzero(wo != ours["weight_before"])),
    }
