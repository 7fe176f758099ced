"""Benchmark the Hebbian layer's kernels (seed 003) against PyTorch and NumPy versions.

Usage::

    python benchmarks/bench_hebbian.py [--quick] [--threads 1,2] [--out DIR]

Writes ``DIR/bench_hebbian.json`` and ``DIR/bench_hebbian.md`` (default DIR: bench-results) and
prints the Markdown report. CPU backend only. Workloads:

(a) ``fast``: unsupervised training throughput of Krotov & Hopfield's fast rule. Ours:
    ``hebbian_update`` over consecutive minibatches; peers: the notebook's minibatch lines
    ported to PyTorch (``torch.argsort`` ranking and a dense ``g @ v`` matmul, as in the
    notebook), and the same port ranking with ``torch.topk``. 2,000 units, N = 784, minibatch
    100, at the paper's p = 3, k = 7 and the notebook's p = 2, k = 2; the weights after the
    pass are compared.
(b) ``slow``: the competing-units rule on a batch of images: ``competing_steady_state`` +
    ``competing_update`` against a NumPy Euler loop vectorised over the batch (thesis sizes:
    484 units), the rates and weights compared.
(c) ``topk``: ``kwta_topk`` against ``torch.topk`` on the shapes the defenses rank.

Timing protocol as bench_common.py: one call of each implementation first (JIT / cache load /
warm-up, reported apart), then the implementations in turn for ``repeats`` rounds. Each thread
count in ``--threads`` (default: 1 and Numba's default) is one case: torch, Numba and NumPy's
OpenBLAS (whose product gives ours its currents) get the same count. The torch peers run under
``torch.inference_mode()``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numba  # noqa: E402
import spikedefense.kernels as K  # noqa: E402
import torch  # noqa: E402
from bench_common import (  # noqa: E402
    dump_json,
    format_seconds,
    numba_cache_stats,
    provenance,
    ratios,
    record_end_state,
    time_interleaved,
    write_report,
)

SEED = 20240531
DEFAULT_OUT = "bench-results"  # benchmarks/results/ is rewritten only on request
TARGET = 1.5  # torch notebook port / ours, images per second, p = 3, k = 7

SIZES: dict[str, dict[str, Any]] = {
    "full": {"fast": {"units": 2000, "batch": 100, "batches": 10, "repeats": 3,
                      "cases": [(3.0, 7), (2.0, 2)]},
             "slow": {"units": 484, "batch": 100, "repeats": 3},
             "topk": {"cases": [(100, 2000, 100), (256, 500, 50), (100, 2000, 7)],
                      "repeats": 21}},
    "quick": {"fast": {"units": 200, "batch": 20, "batches": 2, "repeats": 2,
                       "cases": [(3.0, 7), (2.0, 2)]},
              "slow": {"units": 64, "batch": 8, "repeats": 2},
              "topk": {"cases": [(10, 200, 10), (16, 50, 5)], "repeats": 2}},
}


def set_blas_threads(count: int) -> str:
    """Give NumPy's OpenBLAS ``count`` threads (as threadpoolctl would, through the library's
    own setter); returns what was done, for the report."""
    import ctypes
    import glob

    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*.so*")):
        lib = ctypes.CDLL(path)
        for setter in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads"):
            if hasattr(lib, setter):
                getattr(lib, setter)(ctypes.c_int(count))
                return f"{count} ({os.path.basename(path)})"
    return "its default (no OpenBLAS setter found)"


def load_images(n: int) -> tuple[np.ndarray, str]:
    """n MNIST training images as float32 [n, 784] in [0, 1], in a fixed shuffled order."""
    from spikedefense.data import load_dataset

    try:
        images, _ = load_dataset("mnist", "train")
        source = "MNIST training split (pixel / 255)"
    except FileNotFoundError:
        images, _ = load_dataset("embedded", "test")
        source = "embedded MNIST test subset (SPIKEDEFENSE_DATA not set)"
    flat = images.reshape(len(images), -1).numpy().astype(np.float32)
    order = np.random.default_rng(SEED).permutation(len(flat))[:n]
    return np.ascontiguousarray(flat[order]), source


def max_relative_difference(ours: np.ndarray, peer: np.ndarray) -> float:
    """max |ours - peer| / max |peer|: the largest difference relative to the weights' scale."""
    return float(np.abs(ours.astype(np.float64) - peer).max() / np.abs(peer).max())


# --------------------------------------------------------------------------------------------
# (a) fast rule
# --------------------------------------------------------------------------------------------
def torch_notebook_step(synapses: torch.Tensor, inputs_t: torch.Tensor, p: float, k: int,
                        delta: float, eps: float, prec: float, rank: str) -> None:
    """One minibatch of the notebook, in place on ``synapses`` [H, N]; ``inputs_t`` is v^T."""
    hid, num = synapses.shape[0], inputs_t.shape[1]
    sig = torch.sign(synapses)
    tot_input = torch.mm(sig * torch.abs(synapses) ** (p - 1), inputs_t)
    cols = torch.arange(num)
    yl = torch.zeros(hid, num, dtype=synapses.dtype)
    if rank == "argsort":  # the notebook: ascending argsort, rows hid - 1 and hid - k
        y = torch.argsort(tot_input, dim=0)
        yl[y[hid - 1], cols] = 1.0
        yl[y[hid - k], cols] = -delta
    else:
        y = torch.topk(tot_input, k, dim=0).indices
        yl[y[0], cols] = 1.0
        yl[y[k - 1], cols] = -delta
    xx = torch.sum(yl * tot_input, 1)
    ds = torch.mm(yl, inputs_t.t()) - xx.reshape(-1, 1) * synapses
    nc = max(float(torch.max(torch.abs(ds))), prec)
    synapses += eps * (ds / nc)


def workload_fast(cfg: dict[str, Any], images: np.ndarray) -> dict[str, Any]:
    units, batch, batches = cfg["units"], cfg["batch"], cfg["batches"]
    rng = np.random.default_rng(SEED)
    weight0 = rng.normal(0.0, 1.0, (units, images.shape[1])).astype(np.float32)  # mu 0, sigma 1
    minibatches = [np.ascontiguousarray(images[i * batch:(i + 1) * batch]) for i in range(batches)]
    minibatches_t = [torch.from_numpy(mb.T.copy()) for mb in minibatches]
    cases = []
    for p, k in cfg["cases"]:
        params = K.HebbianParams(p=p, k=k)
        final: dict[str, Any] = {}

        def ours(params: K.HebbianParams = params, final: dict[str, Any] = final) -> None:
            weight = weight0
            for mb in minibatches:
                weight = K.hebbian_update(weight, mb, params, backend="cpu")
            final["ours"] = weight

        def make_peer(rank: str, name: str, params: K.HebbianParams = params,
                      final: dict[str, Any] = final) -> Any:
            def run() -> None:
                synapses = torch.from_numpy(weight0.copy())
                with torch.inference_mode():
                    for mb_t in minibatches_t:
                        torch_notebook_step(synapses, mb_t, params.p, params.k, params.delta,
                                            params.learning_rate, params.precision, rank)
                final[name] = synapses.numpy()
            return run

        impls = {"ours": ours, "torch": make_peer("argsort", "torch"),
                 "torch_topk": make_peer("topk", "torch_topk")}
        stats = time_interleaved(impls, cfg["repeats"])
        n_images = batch * batches
        checks = {"steps": batches}
        for peer in ("torch", "torch_topk"):
            diff = np.abs(final["ours"].astype(np.float64) - final[peer])
            checks[peer] = {"max_rel_diff": max_relative_difference(final["ours"], final[peer]),
                            "rows_differing_by_more_than_1e-4": int((diff.max(axis=1)
                                                                     > 1e-4).sum()),
                            "allclose_rtol_1e-4": bool(np.allclose(final["ours"], final[peer],
                                                                   rtol=1e-4, atol=1e-5))}
        checks["rows_changed_by_training"] = int((final["ours"] != weight0).any(axis=1).sum())
        cases.append({
            "label": f"p={p:g} k={k}",
            "p": p, "k": k,
            "images_per_pass": n_images,
            "implementations": stats,
            "ratios": ratios(stats),
            "images_per_s": {name: n_images / s["median_s"] for name, s in stats.items()},
            "checks": checks,
        })
    return {
        "title": "fast rule: hebbian_update vs a PyTorch port of the notebook's update",
        "sizes": {key: cfg[key] for key in ("units", "batch", "batches")} | {"features": 784},
        "cases": cases,
        "notes": [
            "one pass = the same consecutive minibatches from the same W0 ~ N(0, 1) (float32) "
            "for every implementation; images/s = images per pass / median pass time",
            "ours: K.hebbian_update(W, v, HebbianParams(p, k), backend='cpu') per minibatch, "
            "a new array each time (BLAS for the currents, the g @ v part as a scatter)",
            "torch: the notebook's lines with torch tensors in place (sign(W)|W|^(p-1) @ v^T, "
            "torch.argsort over units, yl rows hid-1 and hid-k, dense yl @ v, broadcasting "
            "instead of np.tile); torch_topk: the same with torch.topk(k) ranking",
            "check: weights after the pass, max |ours - peer| / max |peer|; a ranking decided "
            "by float32 rounding (a near-tie) would show as a differing row",
        ],
    }


# --------------------------------------------------------------------------------------------
# (b) slow rule
# --------------------------------------------------------------------------------------------
def numpy_steady_state(currents: np.ndarray, params: K.CompetingParams) -> tuple[Any, Any]:
    """Euler steps of the whole batch at once (float64); rows freeze when they converge."""
    current = currents.astype(np.float64)
    h = np.zeros_like(current)
    steps = np.full(len(current), -1, dtype=np.int64)
    active = np.ones(len(current), dtype=bool)
    dt_over_tau = params.dt / params.tau_r
    for step in range(params.max_steps + 1):
        relu = np.maximum(h, 0.0)
        change = dt_over_tau * (current - params.w_inh * (relu.sum(axis=1, keepdims=True) - relu)
                                - h)
        done = active & (np.abs(change).max(axis=1) < params.tolerance)
        steps[done] = step
        active &= ~done
        if not active.any():
            break
        change[~active] = 0.0
        h += change
    rates = h.astype(currents.dtype)
    rates[steps < 0] = np.nan
    return rates, steps


def numpy_competing_update(weight: np.ndarray, inputs: np.ndarray, rates: np.ndarray,
                           params: K.CompetingParams) -> np.ndarray:
    gain = np.where(rates <= 0.0, 0.0, np.where(rates < params.h_star, -params.delta, 1.0))
    dots = inputs @ weight.T  # [B, H]
    change = gain.T @ inputs - (gain * dots).sum(axis=0)[:, None] * weight
    return weight + params.dt_w / params.tau_w * change


def workload_slow(cfg: dict[str, Any], images: np.ndarray) -> dict[str, Any]:
    units, batch = cfg["units"], cfg["batch"]
    rng = np.random.default_rng(SEED + 1)
    weight = rng.random((units, images.shape[1]))  # the thesis: np.random.rand, float64
    inputs = images[:batch].astype(np.float64)
    currents = inputs @ weight.T
    params = K.CompetingParams()
    out: dict[str, Any] = {}

    def ours() -> None:
        state = K.competing_steady_state(currents, params, backend="cpu")
        out["ours"] = state, K.competing_update(weight, inputs, state.rates, params,
                                                backend="cpu")

    def peer() -> None:
        rates, steps = numpy_steady_state(currents, params)
        out["numpy"] = (rates, steps), numpy_competing_update(weight, inputs, rates, params)

    stats = time_interleaved({"ours": ours, "numpy": peer}, cfg["repeats"])
    stages = time_interleaved({
        "ours steady state": lambda: K.competing_steady_state(currents, params, backend="cpu"),
        "numpy steady state": lambda: numpy_steady_state(currents, params),
        "ours update": lambda: K.competing_update(weight, inputs, out["ours"][0].rates, params,
                                                  backend="cpu"),
        "numpy update": lambda: numpy_competing_update(weight, inputs, out["numpy"][0][0],
                                                       params),
    }, cfg["repeats"])
    (rates, steps), new = out["ours"]
    (p_rates, p_steps), p_new = out["numpy"]
    case = {
        "label": f"H={units} B={batch}",
        "implementations": stats,
        "ratios": ratios(stats),
        "images_per_s": {name: batch / s["median_s"] for name, s in stats.items()},
        "stages_median_s": {name: s["median_s"] for name, s in stages.items()},
        "checks": {
            "converged_ours": int((steps >= 0).sum()), "converged_numpy": int((p_steps >= 0).sum()),
            "steps_equal": int((steps == p_steps).sum()),
            "max_abs_step_difference": int(np.abs(steps - p_steps).max()),
            "steps_median": float(np.median(steps)),
            "active_units_per_sample_median": float(np.median((rates > 0).sum(axis=1))),
            "rates_max_abs_diff": float(np.nanmax(np.abs(rates - p_rates))),
            "weights_max_rel_diff": max_relative_difference(new, p_new),
        },
    }
    return {
        "title": "slow rule: competing_steady_state + competing_update vs a NumPy Euler loop",
        "sizes": {"units": units, "batch": batch, "features": images.shape[1]},
        "cases": [case],
        "notes": [
            "W ~ U[0, 1) (float64, the thesis' np.random.rand), v = MNIST images / 255, currents "
            "I = v W^T made once outside timing; CompetingParams() defaults (w_inh 0.8, dt/tau_r "
            "0.02, tolerance 1e-6 on the largest change per step, h* 3, delta 0.01, dt_w/tau_w "
            "0.002); images/s = batch / median time of steady state + update",
            "numpy: the same Euler steps on the whole [B, H] batch per step (sum over units by "
            "relu.sum, rows frozen once converged), then the update with dense products "
            "(g^T v - sum_b g (W.v) W)",
            "the sums over units run in another order on each side, so step counts may differ "
            "by one where a row meets the tolerance just then; rates then differ by about the "
            "tolerance",
        ],
    }


# --------------------------------------------------------------------------------------------
# (c) top-k
# --------------------------------------------------------------------------------------------
def workload_topk(cfg: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(SEED + 2)
    cases = []
    for rows, n, k in cfg["cases"]:
        values = rng.normal(size=(rows, n)).astype(np.float32)
        tensor = torch.from_numpy(values)
        impls = {"ours": lambda v=values, k=k: K.kwta_topk(v, k, backend="cpu"),
                 "torch": lambda t=tensor, k=k: torch.topk(t, k, dim=1)}
        stats = time_interleaved(impls, cfg["repeats"])
        ours = K.kwta_topk(values, k, backend="cpu")
        peer = torch.topk(tensor, k, dim=1).indices.numpy()
        cases.append({"label": f"[{rows}, {n}] k={k}", "implementations": stats,
                      "ratios": ratios(stats),
                      "checks": {"indices_equal_torch_topk": bool(np.array_equal(ours, peer))}})
    return {
        "title": "kwta_topk vs torch.topk (largest, sorted)",
        "sizes": {"cases": cfg["cases"]},
        "cases": cases,
        "notes": ["values float32 N(0, 1) (no ties); [100, 2000] k=100: the super-active "
                  "readout's top 5 % of 2,000 units for a batch of 100; [256, 500] k=50: "
                  "Memory Defense's shrinkage over 500 slots; [100, 2000] k=7: the fast rule's "
                  "ranking per sample"],
    }


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _table(work: dict[str, Any], per_image: bool) -> list[str]:
    head = "| case | implementation | images/s | median | min - max | first-call extra | " \
           "peer/ours |" if per_image else \
           "| case | implementation | median | min - max | first-call extra | peer/ours |"
    lines = [head, "|---|---|" + "---:|" * (5 if per_image else 4)]
    for case in work["cases"]:
        for impl, s in case["implementations"].items():
            ratio = case["ratios"].get(f"{impl}/ours")
            cells = [case["label"], impl]
            if per_image:
                cells.append(f"{case['images_per_s'][impl]:,.0f}")
            spread = f"{format_seconds(s['min_s'])} - {format_seconds(s['max_s'])}"
            cells += [format_seconds(s["median_s"]), spread,
                      format_seconds(s["compile_s"]), "" if ratio is None else f"{ratio:.2f}x"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    m, v = report["machine"], report["versions"]
    lines = [f"# Hebbian-layer benchmarks ({report['date']})", "",
             f"- command: `{report['command']}`",
             f"- machine: {m['cpu_model']}, {m['cpu_count']} cores; {m['platform']}",
             "- threads: each case gives torch (set_num_threads), Numba (set_num_threads, "
             f"threading layer {m.get('numba_threading_layer')}) and NumPy's OpenBLAS the same "
             f"count, its `threads=`; OpenBLAS: {report['numpy_blas_threads']}",
             f"- load average (1, 5, 15 min) at start {m['load_average_at_start']}, at end "
             f"{m.get('load_average_at_end')} (the machine is shared: other processes add noise)",
             "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
             f"- images: {report['images']}",
             "- times: median [min - max] over interleaved repeats; `first-call extra` = first "
             "call minus the median (JIT compile / cache load / warm-up), never in the times; "
             "`peer/ours` > 1 means ours is faster.", ""]
    run = report["runs"]["cpu"]
    for name, work in run["workloads"].items():
        lines += [f"## {name}: {work['title']}", "", "- sizes: " + str(work["sizes"]), ""]
        lines += _table(work, per_image=name != "topk") + [""]
        for case in work["cases"]:
            lines.append(f"- checks ({case['label']}): " + dump_json(case["checks"]).replace(
                "\n", " ").strip())
            if "stages_median_s" in case:
                lines.append(f"- stages, median ({case['label']}): " + ", ".join(
                    f"{k} {format_seconds(t)}" for k, t in case["stages_median_s"].items()))
        if "targets" in work:
            lines.append("- targets: " + dump_json(work["targets"]).replace("\n", " ").strip())
        lines += [f"- note: {n}" for n in work["notes"]] + [""]
    lines.append("- numba CPU kernel specialisations: " + str(run["numba_cpu_kernels"]))
    return "\n".join(lines) + "\n"


def targets(fast: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for case in fast["cases"]:
        if (case["p"], case["k"]) == (3.0, 7):
            ratio = case["ratios"]["torch/ours"]
            out[f"torch/ours >= {TARGET:g} at p=3 k=7, threads={case['threads']}"] = {
                "value": ratio, "met": ratio >= TARGET}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats (CI)")
    parser.add_argument("--threads", default=",".join(sorted({"1", str(numba.get_num_threads())})),
                        help="thread counts, one case each, for Numba and torch alike "
                             "(default: %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        thread_counts = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads: expected comma-separated ints, got {args.threads!r}")
    if not all(1 <= t <= numba.config.NUMBA_NUM_THREADS for t in thread_counts):
        parser.error(f"--threads: expected counts from 1 to {numba.config.NUMBA_NUM_THREADS}")
    preset = SIZES["quick" if args.quick else "full"]
    report = provenance("cpu", args.quick)
    fast = preset["fast"]
    images, report["images"] = load_images(max(fast["batch"] * fast["batches"],
                                               preset["slow"]["batch"]))
    workloads: dict[str, Any] = {}
    report["numpy_blas_threads"] = {}
    for threads in thread_counts:
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        report["numpy_blas_threads"][str(threads)] = set_blas_threads(threads)
        for name, run in (("fast", lambda: workload_fast(fast, images)),
                          ("slow", lambda: workload_slow(preset["slow"], images)),
                          ("topk", lambda: workload_topk(preset["topk"]))):
            print(f"[cpu] threads={threads} {name} ...", file=sys.stderr, flush=True)
            work = run()
            for case in work["cases"]:
                case["threads"] = threads
                case["label"] += f" threads={threads}"
            if name in workloads:
                workloads[name]["cases"] += work["cases"]
            else:
                workloads[name] = work
    workloads["fast"]["targets"] = targets(workloads["fast"])
    report["runs"] = {"cpu": {"workloads": workloads, "numba_cpu_kernels": numba_cache_stats()}}
    record_end_state(report)
    text = markdown(report)
    write_report(report, text, args.out, "bench_hebbian")
    return 0


if __name__ == "__main__":
    sys.exit(main())
