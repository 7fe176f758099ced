"""Benchmark ``spikedefense compare`` on a local Ray cluster against the in-process executor.

Usage::

    python benchmarks/bench_ray.py [--quick] [--workers N] [--out DIR] [--work DIR]

Writes ``DIR/bench_ray.json`` and ``DIR/bench_ray.md`` (default DIR: bench-results). CPU.

Workload: the attack units of a comparison on the embedded MNIST subset (:data:`DEFENSES`,
profile ``demo``: its models, its attack settings; ``--quick``: ``tiny``; :data:`SIZES` test
images, shards of 250).
The defenses are built once before any timing (``compare(..., report_only=True)`` in a folder
of its own), so both runs time only their attack units (and their clean accuracy, the same work
on both sides). In-process: one process, torch's default threads. Ray: a local cluster of
``--workers`` CPUs started inside the timed call (its start-up is reported apart), one task per
unit. The two runs write to separate folders; their per-image records must be equal.

Projection to N workers (no more than the units): the in-process executor's per-unit seconds
are scheduled greedily, longest first, onto N workers, plus the measured cluster start-up and
the driver's own time (building nothing, shipping each unit's images): an estimate of what a
cluster of N single-CPU workers like these would take, not a measurement.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_common import provenance, record_end_state, write_report  # noqa: E402

DEFAULT_OUT = "bench-results"
DEFENSES = ("cnn", "bicnn", "adv-train", "hebbian")
SIZES = {"full": {"n": 500, "profile": "demo"}, "quick": {"n": 20, "profile": "tiny"}}
PROJECT = (1, 2, 4, 8, 16, 32)


class _TimedInProcess:
    """The in-process executor, timing each unit (for the projection)."""

    name = "local"

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def map(self, fn: Any, units: Any) -> Any:
        for unit in units:
            start = time.perf_counter()
            result = fn(*unit)
            self.seconds.append(time.perf_counter() - start)
            yield unit, result

    def close(self) -> None:
        return None


def _records(out: Path) -> dict[str, list[bool]]:
    return {str(p.relative_to(out)): json.loads(p.read_text())["correct"]
            for p in sorted((out / "records").rglob("*.json"))}  # fmt: skip


def _schedule(unit_seconds: list[float], workers: int) -> float:
    """Makespan of greedy longest-first scheduling of the units onto ``workers``."""
    loads = [0.0] * workers
    for seconds in sorted(unit_seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + seconds)
    return max(loads)


def run(n: int, profile: str, workers: int, work: Path, scratch: Path) -> dict[str, Any]:
    from spikedefense.evaluation.compare import compare
    from spikedefense.evaluation.executor import RayExecutor

    common = {"n": n, "profile": profile, "progress": False}
    compare(list(DEFENSES), "embedded", str(scratch / "build"), str(work), report_only=True,
            **common)  # fmt: skip
    local = _TimedInProcess()
    start = time.perf_counter()
    compare(list(DEFENSES), "embedded", str(scratch / "local"), str(work), executor=local,
            **common)  # fmt: skip
    local_s = time.perf_counter() - start
    start = time.perf_counter()
    ray = RayExecutor(num_cpus=workers)
    startup_s = time.perf_counter() - start
    try:
        compare(list(DEFENSES), "embedded", str(scratch / "ray"), str(work), executor=ray,
                **common)  # fmt: skip
    finally:
        ray.close()
    ray_s = time.perf_counter() - start
    units = len(local.seconds)
    driver_s = max(local_s - sum(local.seconds), 0.0)
    projected = {str(k): startup_s + driver_s + _schedule(local.seconds, k)
                 for k in PROJECT if k <= units}  # fmt: skip
    return {
        "defenses": list(DEFENSES), "n": n, "profile": profile, "units": units, "workers": workers,
        "in_process_s": local_s, "ray_s": ray_s, "ray_startup_s": startup_s,
        "speedup": local_s / ray_s, "speedup_without_startup": local_s / (ray_s - startup_s),
        "unit_seconds": sorted(local.seconds), "driver_s": driver_s,
        "records_equal": _records(scratch / "local") == _records(scratch / "ray"),
        "projected_s": projected,
    }  # fmt: skip


def markdown(result: dict[str, Any], report: dict[str, Any]) -> str:
    machine = report["provenance"]["machine"]
    rows = "\n".join(f"| {k} | {s:.0f} | {result['in_process_s'] / s:.2f}× |"
                     for k, s in result["projected_s"].items())  # fmt: skip
    return "\n".join([
        "# `compare` on a local Ray cluster against the in-process executor", "",
        f"{machine['cpu_model']}, {machine['cpu_count']} CPUs; load average "
        f"{machine['load_average_at_start']} at the start, {machine['load_average_at_end']} "
        f"at the end. Command: `{report['provenance']['command']}`", "",
        f"Workload: the attack units of `compare --profile {result['profile']}` on the "
        "embedded subset, "
        f"{', '.join(result['defenses'])}, {result['n']} test images: {result['units']} units "
        "(models built before timing).", "",
        "| executor | seconds | speed-up |", "|---|---|---|",
        f"| in process | {result['in_process_s']:.1f} | 1.00× |",
        f"| Ray, local cluster of {result['workers']} CPUs (start-up "
        f"{result['ray_startup_s']:.1f} s included) | {result['ray_s']:.1f} | "
        f"{result['speedup']:.2f}× |",
        f"| the same without the start-up | {result['ray_s'] - result['ray_startup_s']:.1f} | "
        f"{result['speedup_without_startup']:.2f}× |", "",
        f"Per-image records of the two runs equal: **{result['records_equal']}**.", "",
        "Projected for N single-CPU workers (the in-process per-unit seconds scheduled longest "
        "first, plus the measured start-up and driver time; an estimate, not a measurement):",
        "", "| workers | seconds | speed-up over in process |", "|---|---|---|", rows, "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--work", default=None, help="checkpoints (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers: expected a positive count, got {args.workers}")
    size = SIZES["quick" if args.quick else "full"]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work) if args.work else Path(scratch) / "work"
        report: dict[str, Any] = {"provenance": provenance("cpu", args.quick)}
        report["result"] = run(size["n"], size["profile"], args.workers, work, Path(scratch))
    record_end_state(report["provenance"])
    write_report(report, markdown(report["result"], report), args.out, "bench_ray")
    return 0 if report["result"]["records_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
