"""Tunables read at call time, so tests and benchmarks may patch them."""

#: CUDA threads per block for 1-D launches. Tests set it small so that several blocks run.
THREADS_PER_BLOCK = 128

#: Threads in the single block that performs a k-WTA selection on the GPU (a power of two).
KWTA_THREADS = 256
