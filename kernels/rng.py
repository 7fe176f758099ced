"""Counter-based random numbers shared by both backends.

A uniform number is a pure function of ``(seed, element index, step)``: the SplitMix64 finaliser
applied to a key built from the three. No state is carried between calls, so the CPU and the GPU
produce the same bits and the result does not depend on the number of threads.

``uniform(seed, index, step)`` returns a float64 in [0, 1) with 53 random bits. The functions are
plain Python; each backend compiles them (``numba.njit`` / ``numba.cuda.jit(device=True)``).
All integer arithmetic is uint64 and wraps modulo 2**64 by design.
"""

from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
STEP_KEY = np.uint64(0xD1B54A32D192ED03)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)
S11 = np.uint64(11)
TWO_POW_M53 = 1.0 / 9007199254740992.0


def splitmix64(z):
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


def make_uniform(mix):
    """Build ``uniform(seed, index, step)`` on top of a compiled ``splitmix64``."""

    def uniform(seed, index, step):
        key = mix(np.uint64(seed) + GOLDEN * (np.uint64(step) + np.uint64(1)))
        bits = mix(key ^ (np.uint64(index) * STEP_KEY + GOLDEN))
        return np.float64(bits >> S11) * TWO_POW_M53

    return uniform


uniform_py = make_uniform(splitmix64)
"""Pure-Python reference of the generator (slow; used by tests)."""
