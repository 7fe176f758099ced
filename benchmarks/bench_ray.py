"""Benchmark ``spikedefense compare`` on a local Ray cluster against the in-process executor.

Usage::

    python benchmarks/bench_ray.py [--quick] [--workers N] [--out DIR] [--work DIR]

Writes ``DIR/bench_ray.json`` and ``DIR/bench_ray.md`` (default DIR: bench-results). CPU.

Workload: the attack units of a comparison on the embedded MNIST subset (:data:`DEFENSES`,
built once with the ``demo`` profile before any timing, then given to ``compare`` as
``prebuilt``), attacked at the full profile's settings (APGD 100 steps, Square 1,000 queries:
units of seconds, as in a real comparison) on :data:`SIZES` test images in shards of 250;
``--quick``: the ``tiny`` profile and tiny attacks. In-process: one process, torch's default
threads. Ray: a local cluster of ``--workers`` CPUs started inside the timed call (its start-up
is reported apart), one task per unit, each worker single-threaded. The two runs write to
separate folders; their per-image records must be equal.

Projection to N workers (no more than the units): the seconds each unit took on a Ray worker
(its first unit there includes the worker's imports) scheduled greedily, longest first, onto N
workers, plus the measured start-up and the driver's time: an estimate of a cluster of N
single-CPU workers like these, not a measurement.
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
SIZES = {"full": {"n": 250, "profile": "full"}, "quick": {"n": 20, "profile": "tiny"}}
PROJECT = (1, 2, 4, 8, 16, 32)


def _records(out: Path) -> dict[str, dict[str, Any]]:
    return {str(p.relative_to(out)): json.loads(p.read_text())
            for p in sorted((out / "records").rglob("*.json"))}  # fmt: skip


def _correct(records: dict[str, dict[str, Any]]) -> dict[str, list[bool]]:
    return {name: record["correct"] for name, record in records.items()}


def _schedule(unit_seconds: list[float], workers: int) -> float:
    """Makespan of greedy longest-first scheduling of the units onto ``workers``."""
    loads = [0.0] * workers
    for seconds in sorted(unit_seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + seconds)
    return max(loads)


def run(n: int, profile: str, workers: int, work: Path, scratch: Path) -> dict[str, Any]:
    from spikedefense.defenses import defense_spec
    from spikedefense.evaluation.compare import compare
    from spikedefense.evaluation.executor import RayExecutor
    from spikedefense.evaluation.study_setup import study_context

    context, _, _ = study_context("embedded", str(work), profile="tiny" if profile == "tiny"
                                  else "demo", progress=False)  # fmt: skip
    prebuilt = {name: defense_spec(name).build(context) for name in DEFENSES}
    common = {"n": n, "profile": profile, "progress": False, "prebuilt": prebuilt}
    start = time.perf_counter()
    compare(list(DEFENSES), "embedded", str(scratch / "local"), str(work), **common)
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
    local, remote = _records(scratch / "local"), _records(scratch / "ray")
    local_seconds = [r["seconds"] for r in local.values()]
    ray_seconds = [r["seconds"] for r in remote.values()]  # each as timed on its worker
    units = len(local)
    driver_s = max(ray_s - startup_s - _schedule(ray_seconds, workers), 0.0)
    projected = {str(k): startup_s + driver_s + _schedule(ray_seconds, k)
                 for k in PROJECT if k <= units}  # fmt: skip
    return {
        "defenses": list(DEFENSES), "n": n, "profile": profile, "units": units,
        "workers": workers, "in_process_s": local_s, "ray_s": ray_s, "ray_startup_s": startup_s,
        "speedup": local_s / ray_s, "speedup_without_startup": local_s / (ray_s - startup_s),
        "unit_seconds_in_process": local_seconds, "unit_seconds_ray": ray_seconds,
        "driver_s": driver_s, "records_equal": _correct(local) == _correct(remote),
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
        f"Workload: the attack units of `compare` (attacks of the {result['profile']} "
        f"profile) on the embedded subset, {', '.join(result['defenses'])} (small models, "
        f"built before timing), {result['n']} test images: {result['units']} units.", "",
        "| executor | seconds | speed-up |", "|---|---|---|",
        f"| in process | {result['in_process_s']:.1f} | 1.00× |",
        f"| Ray, local cluster of {result['workers']} CPUs (start-up "
        f"{result['ray_startup_s']:.1f} s included) | {result['ray_s']:.1f} | "
        f"{result['speedup']:.2f}× |",
        f"| the same without the start-up | {result['ray_s'] - result['ray_startup_s']:.1f} | "
        f"{result['speedup_without_startup']:.2f}× |", "",
        f"Per-image records of the two runs equal: **{result['records_equal']}**.", "",
        "Projected for N single-CPU workers (the seconds of each unit on a Ray worker scheduled "
        "longest first, plus the measured start-up and driver time; an estimate, not a "
        "measurement):",
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
