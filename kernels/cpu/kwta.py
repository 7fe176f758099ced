"""k-winners-take-all with lateral inhibition on the CPU.

Candidates (neurons that fired) are ordered by (first spike ascending, potential descending,
flat index ascending) and taken greedily, skipping those a previous winner inhibits. The conv
kernel groups candidates by first-spike step with a counting sort and sorts only the groups it
reaches before it has k winners (usually the first one or two), which gives the same order.

The batched dense top-k keeps, per row, the k best values seen so far in a binary heap whose root
is the worst of them, so that most values cost one comparison with the root; rows run in
parallel once the batch is large enough to pay for starting the threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Below this much work per call (values times the heap depth, log2 k), one thread ranks faster
#: than a parallel region starts, and far faster where another process holds a core.
TOPK_PARALLEL_MIN = 1 << 20


@njit(cache=True, nogil=True)
def candidate_order(potentials, first_spike):
    """Flat indices of fired neurons, best candidate first."""
    idx = np.flatnonzero(first_spike >= 0)
    # Stable sorts from the least to the most significant key; idx starts ascending.
    idx = idx[np.argsort(-potentials[idx], kind="mergesort")]
    idx = idx[np.argsort(first_spike[idx], kind="mergesort")]
    return idx


@njit(cache=True, nogil=True)
def _by_first_spike(first_spike):
    """Fired neurons grouped by first-spike step (a stable counting sort: ascending flat index
    within a step) and the start of each step's group, ``starts[t]:starts[t + 1]``; empty arrays
    when the steps span too wide a range for a counting sort to pay off."""
    n = first_spike.size
    last = -1
    for i in range(n):
        last = max(last, first_spike[i])
    if last > 4 * n + 1024:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.zeros(last + 2, dtype=np.int64)
    for i in range(n):
        if first_spike[i] >= 0:
            starts[first_spike[i] + 1] += 1
    for t in range(last + 1):
        starts[t + 1] += starts[t]
    order = np.empty(starts[last + 1], dtype=np.int64)
    fill = starts[:-1].copy()
    for i in range(n):
        t = first_spike[i]
        if t >= 0:
            order[fill[t]] = i
            fill[t] += 1
    return order, starts


@njit(inline="always")
def _take(flat, plane, w, radius, winners, taken, n):
    """Add ``flat`` as winner ``n`` unless its map is taken or a winner's window covers it."""
    c = flat // plane
    y = (flat % plane) // w
    x = flat % w
    if taken[c]:
        return n
    for j in range(n):
        if abs(y - winners[j, 1]) <= radius and abs(x - winners[j, 2]) <= radius:
            return n
    winners[n, 0] = c
    winners[n, 1] = y
    winners[n, 2] = x
    taken[c] = True
    return n + 1


@njit(cache=True, nogil=True)
def _kwta_conv_kernel(potentials, first_spike, shape, k, radius):
    _, h, w = shape
    plane = h * w
    winners = np.empty((k, 3), dtype=np.int64)
    taken = np.zeros(shape[0], dtype=np.bool_)
    n = 0
    if k == 0:
        return winners[:0].copy()
    order, starts = _by_first_spike(first_spike)
    if starts.shape[0] == 0:
        for flat in candidate_order(potentials, first_spike):
            if n == k:
                break
            n = _take(flat, plane, w, radius, winners, taken, n)
        return winners[:n].copy()
    # The candidate order of candidate_order(), built lazily: one first-spike step at a time,
    # each sorted by potential (stable, so ties keep ascending flat order), until k winners.
    for t in range(starts.shape[0] - 1):
        if n == k:
            break
        group = order[starts[t] : starts[t + 1]]
        if group.shape[0] == 0:
            continue
        group = group[np.argsort(-potentials[group], kind="mergesort")]
        for flat in group:
            if n == k:
                break
            n = _take(flat, plane, w, radius, winners, taken, n)
    return winners[:n].copy()


def kwta_conv(potentials: np.ndarray, first_spike: np.ndarray, k: int, radius: int) -> np.ndarray:
    """[C, H, W] potentials and first-spike steps -> int64 [n, 3] winners (c, y, x)."""
    shape = np.array(potentials.shape, dtype=np.int64)
    return _kwta_conv_kernel(
        potentials.ravel(), first_spike.ravel().astype(np.int64), shape, k, radius
    )


def kwta_dense(potentials: np.ndarray, first_spike: np.ndarray, k: int) -> np.ndarray:
    """[N] potentials and first-spike steps -> int64 [n] winners, best first."""
    return candidate_order(potentials, first_spike.astype(np.int64))[:k].copy()


@njit(inline="always")
def _worse(value_a, index_a, value_b, index_b):
    """Does a rank after b: a lower value, or the same value at a higher index."""
    return value_a < value_b or (value_a == value_b and index_a > index_b)


@njit(inline="always")
def _sift_down(values, indices, start, size):
    """Restore the heap below ``start`` (the worst entry at the root), moving a hole down."""
    value, index = values[start], indices[start]
    i = start
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and _worse(values[right], indices[right], values[child],
                                   indices[child]):
            child = right
        if not _worse(values[child], indices[child], value, index):
            break
        values[i], indices[i] = values[child], indices[child]
        i = child
    values[i], indices[i] = value, index


@njit(cache=True, nogil=True)
def top_k_into(row, k, values, indices):
    """Write the indices of the k largest entries of the 1-D ``row`` into ``indices[:k]``, best
    first (ties: lowest index first); ``values[:k]`` is scratch of row's dtype."""
    for i in range(k):
        values[i] = row[i]
        indices[i] = i
    for start in range(k // 2 - 1, -1, -1):
        _sift_down(values, indices, start, k)
    for i in range(k, row.shape[0]):
        # Scanning in index order, an equal value never beats a kept one: strict > suffices.
        if row[i] > values[0]:
            values[0] = row[i]
            indices[0] = i
            _sift_down(values, indices, 0, k)
    for end in range(k - 1, 0, -1):  # heap sort: the worst goes last
        values[0], values[end] = values[end], values[0]
        indices[0], indices[end] = indices[end], indices[0]
        _sift_down(values, indices, 0, end)


@njit(cache=True, nogil=True)
def _topk_serial(values, k):
    out = np.empty((values.shape[0], k), dtype=np.int64)
    scratch = np.empty(k, dtype=values.dtype)
    for b in range(values.shape[0]):
        top_k_into(values[b], k, scratch, out[b])
    return out


@njit(parallel=True, cache=True, nogil=True)
def _topk_parallel(values, k):
    out = np.empty((values.shape[0], k), dtype=np.int64)
    for b in prange(values.shape[0]):
        top_k_into(values[b], k, np.empty(k, dtype=values.dtype), out[b])
    return out


def kwta_topk(values: np.ndarray, k: int) -> np.ndarray:
    """[B, N] values -> int64 [B, k] indices of each row's k largest, best first."""
    if values.size * max(1, k.bit_length()) < TOPK_PARALLEL_MIN or values.shape[0] == 1:
        return _topk_serial(values, k)
    return _topk_parallel(values, k)
