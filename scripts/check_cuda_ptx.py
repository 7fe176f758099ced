"""Compile every CUDA kernel to PTX with the real NVVM (no GPU needed) and inspect it.

Checks that each kernel compiles for the target architecture for float32 and float64 data and
that no kernel contains a fused multiply-add (``fma``), which would round differently from the CPU
backend. Exit status: 0 all good, 1 a check failed, 3 NVVM/NVRTC is not available here.

    NUMBA_ENABLE_CUDASIM=0 python scripts/check_cuda_ptx.py [--cc 9.0]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "0"

import numpy as np  # noqa: E402


def kernels_and_args() -> list[tuple[str, object, tuple]]:
    from numba import typeof
    from spikedefense.kernels.cuda import encode, kwta, lif, propagate, record, stdp

    cases = []
    for dt in (np.float32, np.float64):
        f1, f2 = np.zeros(4, dt), np.zeros((3, 4), dt)
        f4 = np.zeros((2, 2, 3, 3), dt)
        u8_2, u8_4 = np.zeros((3, 4), np.uint8), np.zeros((2, 2, 5, 5), np.uint8)
        i64_1, i64_2, i64_3 = np.zeros(4, np.int64), np.zeros((2, 3), np.int64), \
            np.zeros((2, 5, 5), np.int64)
        s = dt(0)
        name = np.dtype(dt).name
        cases += [
            (f"lif[{name}]", lif._kernel(name),
             (f2, f1, np.zeros(4, np.int32), u8_2, s, s, True, np.int32(0), s)),
            (f"dense[{name}]", propagate._dense_kernel,
             (np.zeros((3, 4), np.int32), np.zeros(3, np.int32), f2, s, f2)),
            (f"conv[{name}]", propagate._spatial_kernel, (u8_4, f4, 1, 1, True, s, f4)),
            (f"kwta[{name}]", kwta._kernel(32),
             (f1, i64_1, 2, 2, 1, 0, True, np.zeros(4, np.uint8), i64_2, i64_1)),
            (f"stdp_conv[{name}]", stdp._conv_kernel(name),
             (f4, f4, True, i64_3, i64_3, i64_2, 1, 0, s, s, s, s, s)),
            (f"stdp_dense[{name}]", stdp._dense_kernel(name),
             (f4, f4, True, i64_1, i64_1, i64_1, s, s, s, s, s)),
            (f"tadros[{name}]", stdp._tadros_kernel,
             (f2, np.zeros(4, np.uint8), np.zeros(3, np.uint8), 0.0, 0.0, 1.0)),
        ]
    cases += [
        ("encode", encode._encode_kernel, (np.zeros(4), 1.0, np.uint64(0), u8_2)),
        ("first_spike", record._first_spike_kernel, (u8_2, i64_1)),
        ("events", record._events_kernel, (u8_2, np.zeros((3, 4), np.int32),
                                           np.zeros(3, np.int32))),
    ]
    return [(name, kernel, tuple(typeof(a) for a in args)) for name, kernel, args in cases]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", default="9.0", help="compute capability, e.g. 9.0 (Hopper)")
    cc = tuple(int(p) for p in parser.parse_args().cc.split("."))
    from numba import cuda

    try:
        cuda.compile_ptx(lambda a: None, (typeof_float_array(),), cc=cc)
    except Exception as exc:  # NVVM or NVRTC missing: nothing to check here
        print(f"NVVM unavailable: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return 3
    # Device functions ask the current device for its compute capability; with no GPU here,
    # a stand-in reports the target's.
    from types import SimpleNamespace

    from numba.cuda import dispatcher

    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    failed = 0
    for name, kernel, sig in kernels_and_args():
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
        except Exception as exc:
            print(f"FAIL {name}: does not compile: {type(exc).__name__}: {exc}")
            failed += 1
            continue
        fused = [line.strip() for line in ptx.splitlines() if "fma." in line]
        if name.startswith("tadros"):
            fused = []  # libdevice's exp uses fma internally; Tadros is documented as not bitwise
        status = "FAIL" if fused else "ok  "
        failed += bool(fused)
        print(f"{status} {name}: {len(ptx.splitlines())} PTX lines, {len(fused)} fma")
    return 1 if failed else 0


def typeof_float_array():
    from numba import float32

    return float32[:]


if __name__ == "__main__":
    sys.exit(main())
