"""Benchmark the sleep phase: images per second through S1-S4 (k-WTA + mSTDP, T = 15).

Usage::

    python benchmarks/bench_sleep.py [--images N] [--backend cpu|cuda|all] [--threads 1,2]
                                     [--repeats R] [--out DIR] [--quick]

Ours: ``sleep_step(state, image, seed=i, config)`` over N real MNIST test images, from the state
of a converted VAE (``vae_to_svae`` + ``init_sleep_state``). The peer: the same sleep step written
in plain PyTorch the way SpykeTorch-style code does it (``benchmarks/torch_sleep.py``), encoding
its own input with ``torch.rand``, under ``torch.no_grad()``. Both start every pass from the same
state and process the same images; a parity check (outside timing) feeds the peer our encoded
spikes and compares winners, spike counts and weights.

Timing protocol (as bench_common.py): each implementation runs one warm-up pass first (Numba JIT
compile or cache load, torch warm-up), reported apart; then the passes alternate ``ours, torch,
ours, torch, ...`` so that load from other processes hits both alike. Reported: the median
images/s over the passes (min - max beside it) and ``ours/torch`` = ratio of the medians. Each
thread count in ``--threads`` is one case (torch and Numba get the same count).

Writes ``DIR/bench_sleep.json`` and ``DIR/bench_sleep.md`` (default DIR: bench-results).
A backend that cannot run here (``--backend cuda`` without a GPU, or under the Numba CUDA
simulator) is skipped with the reason; when nothing is left to run, no file is written.
``--quick`` (CI): a randomly initialised VAE, 2 images, one pass, one thread.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from bench_common import (  # noqa: E402
    dump_json,
    numba_cache_stats,
    provenance,
    record_end_state,
    write_report,
)
from sleep_work import parallel_ceiling, work_bound  # noqa: E402
from torch_sleep import TorchSleep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("bench-results")  # benchmarks/results/ is rewritten only on request
CHECKPOINT = ROOT / ".work" / "mnist" / "defense-vae"
SEED = 20240531
TARGET = 4.0  # ours/torch images/s at one thread
THREAD_TARGET = 1.6  # ours at two threads over ours at one


def cuda_skip_reason() -> str | None:
    """None when the CUDA backend can run this benchmark, else why it is skipped."""
    from spikedefense.kernels import available_backends
    from spikedefense.kernels.dispatch import cuda_unavailable_reason

    if "cuda" not in available_backends():
        return f"not available here: {cuda_unavailable_reason()}"
    from numba import config as numba_config

    if getattr(numba_config, "ENABLE_CUDASIM", 0):
        return (
            "the Numba CUDA simulator runs every GPU thread in Python, far too slowly for "
            "a full VAE; run on a GPU without NUMBA_ENABLE_CUDASIM"
        )
    import torch

    if not torch.cuda.is_available():
        return "numba sees a GPU but this torch build has no CUDA, so the peer cannot run there"
    return None


def build_state(quick: bool, checkpoint: Path = CHECKPOINT) -> tuple[Any, Any, dict[str, Any]]:
    """(sleep state, test images [N, 1, 28, 28], model notes); the VAE from ``checkpoint`` (a
    ``save_checkpoint`` stem; its latent size read from the checkpoint's JSON) when it exists."""
    import json

    from spikedefense.convert import vae_to_svae
    from spikedefense.data import load_dataset
    from spikedefense.defenses.sleep import SleepConfig, init_sleep_state
    from spikedefense.models import ConvVAE

    notes: dict[str, Any] = {}
    try:
        images, _ = load_dataset("mnist", "test")
        notes["images"] = "MNIST test split (pixel / 255)"
    except FileNotFoundError as exc:
        images, _ = load_dataset("embedded", "test")
        notes["images"] = f"embedded MNIST test subset (full MNIST not found: {exc})"
    weights = checkpoint.with_suffix(".safetensors")
    if weights.is_file() and not quick:
        from spikedefense.models.checkpoint import load_checkpoint

        meta = json.loads(checkpoint.with_suffix(".json").read_text())
        vae = ConvVAE(**meta.get("config", {}))
        load_checkpoint(str(checkpoint), vae)
        notes["vae"] = (f"trained Defense-VAE checkpoint {checkpoint.name} (trained on "
                        f"{meta.get('data', {}).get('dataset', 'unknown data')}, latent "
                        f"{vae.latent_dim})")  # fmt: skip
        notes["trained"] = True
    else:
        torch.manual_seed(SEED)
        vae = ConvVAE()
        notes["vae"] = (
            "ConvVAE(latent_dim=128), random initialisation (torch seed "
            f"{SEED}): "
            + ("--quick" if quick else f"{weights} not found")
            + "; spike counts are not those of a trained VAE"
        )
        notes["trained"] = False
    vae.eval()
    calibration = images[:32] if quick else images[:256]
    svae = vae_to_svae(vae, calibration)
    notes["calibration_images"] = len(calibration)
    return init_sleep_state(svae, SleepConfig()), images, notes


class Pair:
    """Ours and the torch peer on one backend, each restarted from ``state0`` for every pass."""

    def __init__(self, state0: Any, images: torch.Tensor, n: int, backend: str) -> None:
        from spikedefense.defenses.sleep import SleepConfig

        self.state0, self.n, self.backend = state0, n, backend
        self.config = SleepConfig(backend=backend)
        self.x = np.ascontiguousarray(images[:n].numpy())
        self.device = "cuda" if backend == "cuda" else "cpu"
        self.images_t = images[:n, 0:1].to(self.device)
        self.spikes: dict[str, dict[str, list[int]]] = {"ours": {}, "torch": {}}

    def sync(self) -> None:
        if self.backend == "cuda":
            import bench_cuda

            bench_cuda.synchronize()

    def make_ours(self) -> Any:
        from spikedefense.defenses.sleep import copy_state, sleep_step

        state, counts = copy_state(self.state0), self.spikes["ours"]

        def run() -> None:
            current = state
            for i in range(self.n):
                current, stats = sleep_step(current, self.x[i], seed=i, config=self.config,
                                            donate=True)  # fmt: skip
                for name, st in stats.items():
                    counts.setdefault(name, []).append(st.spikes)

        return run

    def make_torch(self) -> Any:
        peer = TorchSleep(self.state0, self.config, device=self.device)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(SEED)
        counts = self.spikes["torch"]

        def run() -> None:
            for i in range(self.n):
                for name, st in peer.sleep(self.images_t[i], gen).items():
                    counts.setdefault(name, []).append(st.spikes)

        return run


def timed_passes(pair: Pair, repeats: int) -> dict[str, dict[str, Any]]:
    """Warm-up pass each, then ``repeats`` interleaved passes; images/s statistics."""
    samples: dict[str, list[float]] = {"ours": [], "torch": []}
    first: dict[str, float] = {}
    for r in range(repeats + 1):
        for name in ("ours", "torch"):
            run = pair.make_ours() if name == "ours" else pair.make_torch()  # setup not timed
            pair.spikes[name].clear()
            pair.sync()
            start = time.perf_counter()
            with torch.no_grad():
                run()
            pair.sync()
            elapsed = time.perf_counter() - start
            if r == 0:
                first[name] = elapsed
            else:
                samples[name].append(elapsed)
    stats = {}
    for name, times in samples.items():
        median = statistics.median(times)
        rates = [pair.n / t for t in times]
        stats[name] = {
            "images_per_s": pair.n / median,
            "min_images_per_s": min(rates),
            "max_images_per_s": max(rates),
            "s_per_image": median / pair.n,
            "median_s": median,
            "repeats": len(times),
            "times_s": [round(t, 6) for t in times],
            "first_call_s": first[name],
            "compile_s": max(first[name] - median, 0.0),
            "spikes_per_image": {
                layer: float(np.mean(c)) for layer, c in pair.spikes[name].items()
            },
        }
    return stats


def parity(pair: Pair, n: int) -> dict[str, Any]:
    """Our spikes into the peer's step, image by image from the same state (outside timing)."""
    from spikedefense.kernels import bernoulli_encode

    from spikedefense.defenses.sleep import sleep_step

    peer = TorchSleep(pair.state0, pair.config, device=pair.device)
    state = pair.state0
    winners_equal = spikes_equal = True
    max_unit = max_mirror = 0.0
    for i in range(n):
        state, stats = sleep_step(state, pair.x[i], seed=i, config=pair.config)
        spikes = bernoulli_encode(pair.x[i], pair.config.steps, seed=i, backend="cpu")
        theirs = peer.step(torch.from_numpy(spikes))
        weights = peer.weights()
        for layer in state:
            ours, peer_st = stats[layer.name], theirs[layer.name]
            winners_equal &= [tuple(int(v) for v in w) for w in ours.winners] == peer_st.winners
            spikes_equal &= ours.spikes == peer_st.spikes
            unit, mirror, _ = weights[layer.name]
            max_unit = max(max_unit, float(np.abs(unit - layer.unit).max()))
            if mirror is not None:
                max_mirror = max(max_mirror, float(np.abs(mirror - layer.mirror).max()))
    return {
        "images": n,
        "winners_equal": bool(winners_equal),
        "spike_counts_equal": bool(spikes_equal),
        "max_abs_unit_weight_diff": max_unit,
        "max_abs_mirror_weight_diff": max_mirror,
        "weights_allclose": bool(max(max_unit, max_mirror) <= 1e-6),
    }


def layer_inputs(pair: Pair) -> dict[str, list[np.ndarray]]:
    """Each layer's input spikes ``[T, C, H, W]`` on every image of a pass (outside timing)."""
    from spikedefense.kernels import bernoulli_encode

    from spikedefense.defenses.sleep import sleep_step

    state, inputs = pair.state0, {layer.name: [] for layer in pair.state0}
    for i in range(pair.n):
        spikes = bernoulli_encode(pair.x[i], pair.config.steps, seed=i, backend="cpu")
        state, stats = sleep_step(state, pair.x[i], seed=i, config=pair.config, keep_spikes=True)
        for layer in state:
            inputs[layer.name].append(spikes)
            spikes = stats[layer.name].raster
    return inputs


def profile_ours(pair: Pair, top: int = 8) -> dict[str, float]:
    """Seconds per image of the functions where ours spends its time (cProfile, one pass)."""
    run = pair.make_ours()
    prof = cProfile.Profile()
    prof.enable()
    run()
    prof.disable()
    rows = sorted(pstats.Stats(prof).stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    total = sum(v[2] for _, v in rows)
    out = {f"{Path(f).name}:{fn}": v[2] / pair.n for (f, _, fn), v in rows[:top]}
    out["everything else"] = (total - sum(v[2] for _, v in rows[:top])) / pair.n
    return out


def profile_torch(pair: Pair, top: int = 6) -> dict[str, float]:
    """Seconds per image of the peer's most expensive torch operators (one pass)."""
    from torch.profiler import ProfilerActivity, profile

    run = pair.make_torch()
    with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad():
        run()
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops) / 1e6
    out = {e.key: e.self_cpu_time_total / 1e6 / pair.n for e in ops[:top]}
    out["everything else"] = total / pair.n - sum(out.values())
    return out


def run_backend(backend: str, state0: Any, images: torch.Tensor, n: int, threads: list[int],
                repeats: int, quick: bool) -> dict[str, Any]:  # fmt: skip
    import numba

    pair = Pair(state0, images, n, backend)
    run: dict[str, Any] = {"cases": []}
    if backend == "cuda":
        import bench_cuda

        run["device"] = bench_cuda.device_info()
    for count in threads:
        torch.set_num_threads(count)
        numba.set_num_threads(count)
        print(f"[{backend}] threads={count} ...", file=sys.stderr, flush=True)
        stats = timed_passes(pair, repeats)
        ratio = stats["ours"]["images_per_s"] / stats["torch"]["images_per_s"]
        run["cases"].append(
            {
                "label": f"threads={count}",
                "threads": count,
                "load_average": list(os.getloadavg()),
                "implementations": stats,
                "ratios": {"ours/torch": ratio},
            }
        )
    torch.set_num_threads(threads[0])
    numba.set_num_threads(threads[0])
    run["checks"] = parity(pair, min(n, 3 if quick else 5))
    if backend == "cpu":
        torch_s = run["cases"][0]["implementations"]["torch"]["s_per_image"]
        run["work_bound"] = work_bound(state0, layer_inputs(pair), torch_s, TARGET)
        run["work_bound"]["threads"] = threads[0]
    if not quick:
        run["profile_threads"] = threads[0]
        run["profile_ours_s_per_image"] = profile_ours(pair)
        run["profile_torch_s_per_image"] = profile_torch(pair)
    if backend == "cpu" and max(threads) > 1:
        run["parallel_ceiling"] = parallel_ceiling(max(threads))
    run["numba_cpu_kernels"] = numba_cache_stats()
    return run


NOTES = [
    "ours: spikedefense.defenses.sleep.step.sleep_step(state, image, seed=i, config, "
    "donate=True) per image, as spikedefense.defenses.sleep.phase.sleep runs it (Bernoulli "
    "encoding with our counter-based generator, S1-S4: event-driven conv currents + bias, "
    "non-leaky IF with reset by subtraction, first spikes, k-WTA (k 5/5/8/1, r 3/2/1/0), "
    "mSTDP in unit space with the mirrored decoder update); each pass starts from a copy of "
    "the initial state made outside timing, which the steps then update in place (as the peer "
    "updates its tensors)",
    "torch: benchmarks/torch_sleep.py TorchSleep.sleep(image): torch.rand encoding, F.conv2d "
    "over the T steps as the batch, an IF loop over T, first spikes by one max-reduction, a "
    "SpykeTorch-style k-WTA loop on a single exact score, per-winner STDP on the winner's map "
    "(unit space, float32 as SpykeTorch) with the mirror update, under torch.no_grad(); tensors "
    "prepared once per pass outside timing",
    "both start each pass from the same initial state and process the same images, so they do "
    "the same work; their input spikes differ only by the random generator (spike counts per "
    "layer are reported for both); 'checks' feeds the peer our encoded spikes and compares",
    "threads: torch.set_num_threads and numba.set_num_threads get the same count per case; the "
    "machine is shared, so the load average is recorded per case: parallel regions of either "
    "side slow down sharply when other processes hold the cores",
]


def _fmt_rate(stats: dict[str, Any]) -> str:
    return (
        f"{stats['images_per_s']:.1f} | {stats['min_images_per_s']:.1f} - "
        f"{stats['max_images_per_s']:.1f} | {stats['s_per_image'] * 1e3:.2f} ms | "
        f"{stats['compile_s']:.2f} s"
    )


def work_markdown(bound: dict[str, Any], layers: list[str]) -> list[str]:
    """The work-bound section (see sleep_work.py)."""
    lines = [
        "",
        "### What the additions alone cost (`benchmarks/sleep_work.py`)",
        "",
        "Per image, mean over the pass's images. An exact event-driven layer adds one weight per "
        "(input spike, reachable output neuron); `adds only` replays that many row additions "
        "in a tight Numba loop with weights and accumulator in L1 (best of 20; no spike search, "
        "neurons, k-WTA, STDP, encoding or copies).",
        "",
        "| layer | input spikes | synaptic adds | torch dense MACs | IF updates | adds only |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in layers:
        w = bound["layers"][name]
        lines.append(
            f"| {name} | {w['input_spikes']:.0f} | {w['synaptic_adds'] / 1e6:.2f} M | "
            f"{w['torch_dense_macs'] / 1e6:.1f} M | {w['neuron_updates'] / 1e6:.2f} M | "
            f"{w['adds_only_s'] * 1e3:.3f} ms |"
        )
    lines += [
        f"| all | | {bound['synaptic_adds'] / 1e6:.2f} M | {bound['torch_dense_macs'] / 1e6:.1f} M "
        f"| | {bound['adds_only_s_per_image'] * 1e3:.3f} ms |",
        "",
        f"- torch's step takes {bound['torch_s_per_image'] * 1e3:.2f} ms per image "
        f"(threads={bound['threads']}); the target needs "
        f"{bound['budget_s_per_image_at_target'] * 1e3:.3f} ms; the additions alone take "
        f"{bound['adds_only_s_per_image'] * 1e3:.3f} ms, so no kernel that performs them "
        f"with Numba loops like ours can exceed **{bound['max_ratio']:.1f}x** the torch step.",
    ]
    return lines


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Sleep-phase benchmark ({report['date']})",
        "",
        f"- command: `{report['command']}`",
        f"- machine: {m['cpu_model']}, {m['cpu_count']} cores; {m['platform']}; load average "
        f"at start {m['load_average_at_start']}, at end {m.get('load_average_at_end')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- model: {report['model']['vae']}; images: {report['model']['images']}; "
        f"{report['images']} images per pass, T = {report['config']['steps']}",
        "- images/s: median [min - max] over interleaved passes; `first-pass extra` = first "
        "pass minus the median (JIT compile / cache load / warm-up), never in the rates; "
        "`ours/torch` > 1 means ours is faster.",
        "",
    ]
    for backend, why in report.get("skipped", {}).items():
        lines += [f"- backend {backend} skipped: {why}", ""]
    for backend, run in report["runs"].items():
        lines += [
            f"## backend = {backend}",
            "",
            "| case | implementation | images/s | min - max | per image | first-pass extra "
            "| ours/torch |",
            "|---|---|---:|---|---:|---:|---:|",
        ]
        for case in run["cases"]:
            for impl in ("ours", "torch"):
                ratio = f"{case['ratios']['ours/torch']:.2f}x" if impl == "ours" else ""
                lines.append(
                    f"| {case['label']} | {impl} | "
                    f"{_fmt_rate(case['implementations'][impl])} | {ratio} |"
                )
        lines += [
            "",
            "Spikes per image (mean over a pass):",
            "",
            "| case | implementation | " + " | ".join(report["config"]["layers"]) + " |",
            "|---|---|" + "---:|" * len(report["config"]["layers"]),
        ]
        layers = report["config"]["layers"]
        for case in run["cases"]:
            for impl in ("ours", "torch"):
                per = case["implementations"][impl]["spikes_per_image"]
                cells = " | ".join(f"{per.get(name, 0):.0f}" for name in layers)
                lines.append(f"| {case['label']} | {impl} | {cells} |")
        lines += [
            "",
            "- checks (our spikes into the peer): "
            + dump_json(run["checks"]).strip().replace("\n", ""),
        ]
        for key in ("profile_ours_s_per_image", "profile_torch_s_per_image"):
            if key in run:
                who = "ours" if "ours" in key else "torch"
                lines.append(
                    f"- where {who} spends a pass (threads={run['profile_threads']}, "
                    "per image): "
                    + ", ".join(f"`{k}` {v * 1e3:.2f} ms" for k, v in run[key].items())
                )
        if "work_bound" in run:
            lines += work_markdown(run["work_bound"], report["config"]["layers"])
        lines.append("")
    lines += ["## Targets", ""]
    for t in report["targets"]:
        value = "not measured" if t["value"] is None else f"{t['value']:.2f}"
        lines.append(f"- {t['name']}: measured {value}, met: {t['met']}")
        ceiling = t.get("machine_ceiling")
        if ceiling:
            lines.append(f"  - this machine's ceiling: an embarrassingly parallel Numba loop runs "
                         f"{ceiling['speedup']:.2f}x faster on {ceiling['threads']} threads "
                         f"than on one")
    lines.append("")
    lines += [f"- note: {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def targets(cpu: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The issue's two targets with ``met`` (None where the run lacks the case): ours/torch at
    one thread, and ours at two threads over ours at one (beside the machine's ceiling)."""
    cases = {c["threads"]: c for c in (cpu or {}).get("cases", [])}
    one = cases.get(1)
    value = one["ratios"]["ours/torch"] if one else None
    found = [{"name": f"ours/torch images/s >= {TARGET:g} on the CPU, threads=1",
              "value": value, "met": None if value is None else value >= TARGET}]
    two = cases.get(2)
    scaling = (two["implementations"]["ours"]["images_per_s"]
               / one["implementations"]["ours"]["images_per_s"]) if one and two else None
    found.append({"name": f"ours at threads=2 / ours at threads=1 >= {THREAD_TARGET:g}",
                  "value": scaling, "met": None if scaling is None else scaling >= THREAD_TARGET,
                  "machine_ceiling": (cpu or {}).get("parallel_ceiling")})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=None, help="images per pass (default 64; --quick: 2)"
    )
    parser.add_argument("--backend", choices=("cpu", "cuda", "all"), default="cpu")
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts, one case each (default: 1 and all cores; --quick: 1)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed passes per implementation and case (default 5; --quick: 1)",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="output folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny run for CI (random VAE)")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT,
                        help="stem of a trained Defense-VAE checkpoint (default: %(default)s; "
                        "a random VAE where it does not exist)")
    args = parser.parse_args(argv)
    n = args.images or (2 if args.quick else 64)
    repeats = args.repeats or (1 if args.quick else 5)
    cores = os.cpu_count() or 1
    threads = (
        [int(v) for v in args.threads.split(",")]
        if args.threads
        else [1]
        if args.quick
        else sorted({1, cores})
    )
    if n < 1 or repeats < 1 or any(c < 1 for c in threads):
        parser.error("--images, --repeats and --threads must be positive")
    report = provenance(args.backend, args.quick)
    report["runs"], report["skipped"] = {}, {}
    backends = []
    for backend in ["cpu", "cuda"] if args.backend == "all" else [args.backend]:
        why = cuda_skip_reason() if backend == "cuda" else None
        if why:
            report["skipped"][backend] = why
            print(f"[{backend}] skipped: {why}", file=sys.stderr)
        else:
            backends.append(backend)
    from spikedefense.defenses.sleep import SleepConfig

    report["config"] = SleepConfig().to_dict()
    report["images"] = n
    if not backends:  # say why and leave earlier results in --out as they are
        print(
            "nothing to run: every requested backend was skipped; no files written", file=sys.stderr
        )
        return 0
    state0, images, report["model"] = build_state(args.quick, args.checkpoint)
    if n > len(images):
        parser.error(f"--images: at most {len(images)} images are available")
    for backend in backends:
        report["runs"][backend] = run_backend(
            backend, state0, images, n, threads, repeats, args.quick
        )
    record_end_state(report)
    cpu = report["runs"].get("cpu")
    report["targets"] = targets(cpu)
    report["notes"] = NOTES
    text = markdown(report)
    write_report(report, text, args.out, "bench_sleep")
    return 0


if __name__ == "__main__":
    sys.exit(main())
