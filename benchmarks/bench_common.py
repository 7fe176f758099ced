"""Shared helpers of the kernel benchmarks: interleaved timing, statistics, provenance, output.

Timing protocol (every workload): each implementation is called once on its own first (that call
pays JIT compilation, on-disk cache loading or library warm-up); then the implementations are
called in turn, ``ours, peer, peer2, ours, peer, peer2, ...`` for ``repeats`` rounds, so that load
from other processes on a shared machine hits all of them alike. Reported: median / min / max of
the steady-state calls, and ``compile_s = max(first_call - median, 0)`` apart from them.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def time_interleaved(impls: dict[str, Callable[[], Any]], repeats: int,
                     sync: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
    """Time callables interleaved; returns per name the statistics described above."""
    sync = sync or (lambda: None)
    first: dict[str, float] = {}
    for name, fn in impls.items():
        gc.collect()
        start = time.perf_counter()
        fn()
        sync()
        first[name] = time.perf_counter() - start
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, fn in impls.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    stats = {}
    for name, times in samples.items():
        median = statistics.median(times)
        stats[name] = {
            "median_s": median,
            "min_s": min(times),
            "max_s": max(times),
            "repeats": len(times),
            "times_s": [round(t, 6) for t in times],
            "first_call_s": first[name],
            "compile_s": max(first[name] - median, 0.0),
        }
    return stats


def time_stages(stages: list[tuple[str, Callable[[dict[str, Any]], None]]], repeats: int,
                sync: Callable[[], None] | None = None) -> dict[str, float]:
    """Median seconds of each stage of a pipeline (a profile of ours, outside the comparison).

    Every stage reads and writes one shared ``state`` dict; the first round is a warm-up.
    """
    sync = sync or (lambda: None)
    samples: dict[str, list[float]] = {name: [] for name, _ in stages}
    for _ in range(repeats + 1):
        state: dict[str, Any] = {}
        gc.collect()
        for name, fn in stages:
            start = time.perf_counter()
            fn(state)
            sync()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times[1:]) for name, times in samples.items()}


def ratios(stats: dict[str, dict[str, Any]], ours: str = "ours") -> dict[str, float]:
    """``peer median / ours median`` for every other implementation (> 1: ours is faster)."""
    base = stats[ours]["median_s"]
    return {f"{name}/{ours}": s["median_s"] / base for name, s in stats.items() if name != ours}


def linear_fit(x: list[float], y: list[float]) -> dict[str, float]:
    """Least squares ``y = a + b * x`` with the coefficient of determination R^2."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design = np.stack([np.ones_like(xa), xa], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, ya, rcond=None)
    residual = float(np.sum((ya - (a + b * xa)) ** 2))
    total = float(np.sum((ya - ya.mean()) ** 2))
    r2 = 1.0 - residual / total if total > 0 else float("nan")
    return {"a_s": float(a), "b_s_per_spike": float(b), "r2": r2, "points": len(xa)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    import numba
    import torch

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_num_threads": torch.get_num_threads(),
        "numba_num_threads": numba.get_num_threads(),
        "numba_cudasim": os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1",
        "load_average_at_start": list(os.getloadavg()),
    }


def numba_cache_stats(prefix: str = "spikedefense.kernels.cpu") -> dict[str, int]:
    """How many CPU kernel specialisations came from Numba's on-disk cache and how many were
    compiled in this process (first-call extra = cache load when all are hits)."""
    from numba.core.dispatcher import Dispatcher

    hits = misses = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix) or module is None:
            continue
        for obj in vars(module).values():
            if isinstance(obj, Dispatcher):
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
    return {"loaded_from_cache": hits, "compiled": misses}


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("numpy", "numba", "numba-cuda", "torch", "snntorch", "norse", "spikedefense"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(backend: str, quick: bool) -> dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "backend": backend,
        "quick": quick,
        "machine": machine_info(),
        "versions": versions(),
    }


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to a temporary file in the same folder, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def record_end_state(report: dict[str, Any]) -> None:
    """Add the load average at the end and Numba's threading layer (None when no parallel
    region ran) to ``report["machine"]``."""
    import numba

    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    try:
        report["machine"]["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel region ran
        report["machine"]["numba_threading_layer"] = None


def write_report(report: dict[str, Any], text: str, out_dir: str, stem: str) -> None:
    """``stem.json`` (the report) and ``stem.md`` (``text``) in ``out_dir``, atomically; print
    the Markdown."""
    os.makedirs(out_dir, exist_ok=True)
    write_atomic(os.path.join(out_dir, f"{stem}.json"), dump_json(report))
    write_atomic(os.path.join(out_dir, f"{stem}.md"), text)
    print(text)


def dump_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=False, default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def format_seconds(seconds: float) -> str:
    """``1.234 s``, ``12.34 ms`` or ``5.6 us``."""
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def markdown(report: dict[str, Any]) -> str:
    """The human-readable report: one table per backend, then checks, fits and notes."""
    lines = [f"# Kernel benchmarks ({report['date']})", ""]
    m, v = report["machine"], report["versions"]
    lines += [
        f"- command: `{report['command']}`",
        f"- machine: {m['cpu_model']}, {m['cpu_count']} cores, torch threads "
        f"{m['torch_num_threads']}, numba threads {m['numba_num_threads']} (threading layer "
        f"{m.get('numba_threading_layer')}); {m['platform']}",
        f"- load average (1, 5, 15 min) at start {m['load_average_at_start']}, at end "
        f"{m.get('load_average_at_end')} (the machine is shared: other processes add noise)",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- times: median [min - max] over interleaved repeats; `first-call extra` = first call "
        "minus the median (JIT compile / cache load / warm-up), never included in the times; "
        "`peer/ours` > 1 means ours is faster.",
        "",
    ]
    for backend, why in report.get("skipped", {}).items():
        lines += [f"- backend {backend} skipped: {why}", ""]
    for backend, run in report["runs"].items():
        lines += [f"## backend = {backend}", ""]
        if run.get("numba_cpu_kernels"):
            lines += ["- numba CPU kernel specialisations: "
                      + json.dumps(run["numba_cpu_kernels"]), ""]
        if "device" in run:
            lines += ["- device: " + json.dumps(run["device"], default=_jsonable), ""]
        lines += ["| workload | case | implementation | median | min - max | first-call extra "
                  "| peer/ours |", "|---|---|---|---:|---|---:|---:|"]
        for wname, work in run["workloads"].items():
            for case in work["cases"]:
                for impl, s in case["implementations"].items():
                    ratio = case["ratios"].get(f"{impl}/ours")
                    lines.append(
                        f"| {wname} | {case['label']} | {impl} | {format_seconds(s['median_s'])} | "
                        f"{format_seconds(s['min_s'])} - {format_seconds(s['max_s'])} | "
                        f"{format_seconds(s['compile_s'])} | "
                        f"{'' if ratio is None else f'{ratio:.2f}x'} |")
        lines.append("")
        for wname, work in run["workloads"].items():
            lines += [f"### {wname}: {work['title']}", "", "- sizes: " + json.dumps(work["sizes"])]
            for case in work["cases"]:
                if case.get("checks"):
                    lines.append(f"- checks ({case['label']}): "
                                 + json.dumps(case["checks"], default=_jsonable))
                if case.get("extra"):
                    lines.append(f"- measured ({case['label']}): "
                                 + json.dumps(case["extra"], default=_jsonable))
                if case.get("profile_ours_s"):
                    lines.append(f"- ours by stage, median ({case['label']}): " + ", ".join(
                        f"{k} {format_seconds(t)}" for k, t in case["profile_ours_s"].items()))
            if "fit" in work:
                f = work["fit"]
                lines.append(f"- fit (ours): time = {f['a_s'] * 1e3:.3f} ms + "
                             f"{f['b_s_per_spike'] * 1e6:.4f} us * n_input_spikes, "
                             f"R^2 = {f['r2']:.4f} over {f['points']} rates")
            if "targets" in work:
                lines.append("- targets: " + json.dumps(work["targets"], default=_jsonable))
            lines += [f"- note: {n}" for n in work.get("notes", [])]
            lines.append("")
    return "\n".join(lines)
