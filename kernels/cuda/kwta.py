"""k-winners-take-all with lateral inhibition on the GPU.

One block selects the winners one by one: in each round every thread finds the best eligible
candidate among its share of neurons, a shared-memory tree reduction finds the best of all, and
thread 0 records it and marks what it inhibits. The ordering key (first spike ascending, potential
descending, flat index ascending) is total, so the result equals the CPU's whatever the thread
count.

``kwta_topk`` runs one block per row and takes the k winners in k rounds of the same reduction;
a round considers only the values ranked after the previous round's winner, so no array of taken
flags is needed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numba import cuda, float64, int64

from .. import config
from ._device import back, block_size, on_host, to_device


@cuda.jit(device=True)
def _better(fa, pa, ia, fb, pb, ib):
    """Is candidate a ranked before candidate b? An index of -1 marks no candidate."""
    if ia < 0:
        return False
    if ib < 0 or fa < fb:
        return True
    if fa > fb:
        return False
    if pa > pb:
        return True
    if pa < pb:
        return False
    return ia < ib


@cache
def _kernel(threads: int) -> Any:
    @cuda.jit
    def kwta(potentials, first_spike, height, width, k, radius, spatial, taken, winners, count):
        tid = cuda.threadIdx.x
        s_first = cuda.shared.array(threads, int64)
        s_pot = cuda.shared.array(threads, float64)
        s_idx = cuda.shared.array(threads, int64)
        plane = height * width
        n_won = 0
        for _ in range(k):
            best_f, best_p, best_i = int64(-1), float64(0.0), int64(-1)
            for flat in range(tid, potentials.shape[0], threads):
                f = first_spike[flat]
                if f < 0:
                    continue
                if spatial:
                    if taken[flat // plane]:
                        continue
                    y = (flat % plane) // width
                    x = flat % width
                    inhibited = False
                    for j in range(n_won):
                        if abs(y - winners[j, 1]) <= radius and abs(x - winners[j, 2]) <= radius:
                            inhibited = True
                            break
                    if inhibited:
                        continue
                elif taken[flat]:
                    continue
                p = float64(potentials[flat])
                if _better(f, p, flat, best_f, best_p, best_i):
                    best_f, best_p, best_i = f, p, flat
            s_first[tid], s_pot[tid], s_idx[tid] = best_f, best_p, best_i
            cuda.syncthreads()
            half = threads // 2
            while half > 0:
                if tid < half and _better(s_first[tid + half], s_pot[tid + half],
                                          s_idx[tid + half], s_first[tid], s_pot[tid],
                                          s_idx[tid]):
                    s_first[tid] = s_first[tid + half]
                    s_pot[tid] = s_pot[tid + half]
                    s_idx[tid] = s_idx[tid + half]
                cuda.syncthreads()
                half //= 2
            winner = s_idx[0]
            if winner < 0:
                break
            if tid == 0:
                winners[n_won, 0] = winner // plane
                winners[n_won, 1] = (winner % plane) // width
                winners[n_won, 2] = winner % width
                taken[winner // plane if spatial else winner] = 1
            n_won += 1
            cuda.syncthreads()
        if tid == 0:
            count[0] = n_won

    return kwta


def _select(potentials: Any, first_spike: Any, k: int, radius: int, height: int, width: int,
            n_taken: int, spatial: bool) -> tuple[Any, int, bool]:
    threads = block_size("config.KWTA_THREADS", config.KWTA_THREADS)
    if threads & (threads - 1):
        raise ValueError(f"config.KWTA_THREADS: expected a power of two, got {threads}")
    host = on_host(potentials, first_spike)
    d_pot = to_device(potentials).reshape(-1)
    d_first = to_device(first_spike).reshape(-1)
    taken = cuda.to_device(np.zeros(n_taken, dtype=np.uint8))
    winners = cuda.device_array((max(k, 1), 3), dtype=np.int64)
    count = cuda.to_device(np.zeros(1, dtype=np.int64))
    _kernel(threads)[1, threads](d_pot, d_first, height, width, k, radius, spatial, taken,
                                 winners, count)
    return winners, int(count.copy_to_host()[0]), host


def kwta_conv(potentials: Any, first_spike: Any, k: int, radius: int) -> Any:
    """[C, H, W] potentials and first-spike steps -> int64 [n, 3] winners (c, y, x)."""
    channels, height, width = potentials.shape
    winners, n, host = _select(potentials, first_spike, k, radius, height, width, channels, True)
    return back(winners[:n], host)


def kwta_dense(potentials: Any, first_spike: Any, k: int) -> Any:
    """[N] potentials and first-spike steps -> int64 [n] winners, best first."""
    size = potentials.shape[0]
    winners, n, host = _select(potentials, first_spike, k, 0, 1, 1, size, False)
    if host:
        return winners.copy_to_host()[:n, 0].copy()
    return winners[:n, 0]


@cache
def _topk_kernel(threads: int) -> Any:
    @cuda.jit
    def topk(values, k, out):
        row = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        s_val = cuda.shared.array(threads, float64)
        s_idx = cuda.shared.array(threads, int64)
        n = values.shape[1]
        last_v, last_i = float64(0.0), int64(-1)
        for r in range(k):
            best_v, best_i = float64(0.0), int64(-1)
            for j in range(tid, n, threads):
                v = float64(values[row, j])
                # ranked no later than the previous winner: taken already
                if last_i >= 0 and not (v < last_v or (v == last_v and j > last_i)):
                    continue
                if best_i < 0 or v > best_v or (v == best_v and j < best_i):
                    best_v, best_i = v, j
            s_val[tid], s_idx[tid] = best_v, best_i
            cuda.syncthreads()
            half = threads // 2
            while half > 0:
                if tid < half:
                    v, j = s_val[tid + half], s_idx[tid + half]
                    if j >= 0 and (s_idx[tid] < 0 or v > s_val[tid]
                                   or (v == s_val[tid] and j < s_idx[tid])):
                        s_val[tid], s_idx[tid] = v, j
                cuda.syncthreads()
                half //= 2
            last_v, last_i = s_val[0], s_idx[0]
            if tid == 0:
                out[row, r] = last_i
            cuda.syncthreads()  # everyone has read the winner before the next round writes

    return topk


def kwta_topk(values: Any, k: int) -> Any:
    """[B, N] values -> int64 [B, k] indices of each row's k largest, best first."""
    threads = block_size("config.KWTA_THREADS", config.KWTA_THREADS)
    if threads & (threads - 1):
        raise ValueError(f"config.KWTA_THREADS: expected a power of two, got {threads}")
    host = on_host(values)
    d_values = to_device(values)
    out = cuda.device_array((values.shape[0], k), dtype=np.int64)
    _topk_kernel(threads)[values.shape[0], threads](d_values, k, out)
    return back(out, host)
