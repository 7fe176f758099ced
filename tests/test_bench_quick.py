"""End-to-end run of the kernel benchmark at its quick (CI) sizes on the CPU backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_kernels.py"
PEERS = {"lif": ("snntorch", "norse"), "dense": ("snntorch", "norse"), "sleep": ("torch",),
         "layouts": ("pytorch layout",)}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # conftest turns the simulator on; CPU only here
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--backend", "cpu", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| workload | case | implementation |" in proc.stdout  # the table is printed
    assert (out / "bench_kernels.md").read_text(encoding="utf-8").startswith("# Kernel bench")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]
    return json.loads((out / "bench_kernels.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_provenance(report: dict) -> None:
    assert report["backend"] == "cpu" and report["quick"] is True
    assert "--quick" in report["command"]
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch_num_threads"] >= 1
    assert machine["cpu_model"]
    for name in ("python", "numpy", "numba", "torch", "snntorch", "norse", "spikedefense"):
        assert report["versions"][name] != "not installed", name


@pytest.mark.slow
def test_timings_and_ratios(report: dict) -> None:
    workloads = report["runs"]["cpu"]["workloads"]
    assert set(workloads) == {"lif", "dense", "sleep", "layouts"}
    for name, work in workloads.items():
        assert work["cases"], name
        for case in work["cases"]:
            impls = case["implementations"]
            assert set(impls) == {"ours", *PEERS[name]}, (name, case["label"])
            for impl, stats in impls.items():
                assert 0 < stats["min_s"] <= stats["median_s"] <= stats["max_s"], (name, impl)
                assert stats["repeats"] == len(stats["times_s"]) >= 1
                # compile / warm-up is reported apart and is not one of the timed samples
                assert stats["first_call_s"] > 0 and stats["compile_s"] >= 0
                assert stats["compile_s"] == pytest.approx(
                    max(stats["first_call_s"] - stats["median_s"], 0.0))
            for peer in PEERS[name]:
                ratio = case["ratios"][f"{peer}/ours"]
                assert ratio == pytest.approx(impls[peer]["median_s"] / impls["ours"]["median_s"])


@pytest.mark.slow
def test_layouts_give_identical_currents_and_a_checked_target(report: dict) -> None:
    layouts = report["runs"]["cpu"]["workloads"]["layouts"]
    assert [c["label"].split()[0] for c in layouts["cases"]] == [
        "dense", "dense", "conv2d", "conv_transpose2d"]
    assert all(c["checks"]["identical_currents"] for c in layouts["cases"])
    target = layouts["targets"]["pytorch layout/best layout <= 1.3 on every case"]
    worst = max(c["ratios"]["pytorch layout/ours"] for c in layouts["cases"])
    assert target["value"] == worst and target["met"] == (worst <= 1.3)


@pytest.mark.slow
def test_dense_fit(report: dict) -> None:
    dense = report["runs"]["cpu"]["workloads"]["dense"]
    spikes = [case["n_input_spikes"] for case in dense["cases"]]
    assert spikes == sorted(spikes) and spikes[0] > 0  # rates ascend
    fit = dense["fit"]
    assert fit["points"] == len(dense["cases"]) and fit["n_input_spikes"] == spikes
    assert fit["r2"] <= 1.0


@pytest.mark.slow
def test_spikes_agree_with_snntorch(report: dict) -> None:
    workloads = report["runs"]["cpu"]["workloads"]
    for name in ("lif", "dense"):
        for case in workloads[name]["cases"]:
            check = case["checks"]["snntorch"]
            assert check["equal_except_ties"], (name, case["label"], check)
            assert check["spikes_ours"] > 0
            assert check["agreement"] >= 0.999
            assert case["checks"]["norse"]["agreement"] >= 0.99
    for case in workloads["dense"]["cases"]:
        assert case["checks"]["currents_equal_F_linear"], case["label"]


@pytest.mark.slow
def test_sleep_step_agrees_with_torch(report: dict) -> None:
    sleep = report["runs"]["cpu"]["workloads"]["sleep"]
    checked = [case["checks"] for case in sleep["cases"] if case["checks"]]
    assert len(checked) == 1
    check = checked[0]
    assert 1 <= check["n_winners"] <= sleep["sizes"]["k"]
    assert check["winners_equal"] and check["winners_ours"] == check["winners_peer"]
    assert check["post_first_spike_equal"]
    assert check["weights_allclose"]
    assert check["weights_changed"] > 0


# --------------------------------------------------------------------------------------------
# the Hebbian-layer benchmark
# --------------------------------------------------------------------------------------------
HEBBIAN_SCRIPT = ROOT / "benchmarks" / "bench_hebbian.py"
HEBBIAN_PEERS = {"fast": ("torch", "torch_topk"), "slow": ("numpy",), "topk": ("torch",)}


@pytest.fixture(scope="module")
def hebbian_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench_hebbian")
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run(
        [sys.executable, str(HEBBIAN_SCRIPT), "--quick", "--threads", "1,2", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| case | implementation | images/s |" in proc.stdout
    text = (out / "bench_hebbian.md").read_text(encoding="utf-8")
    assert text.startswith("# Hebbian-layer benchmarks")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]
    return json.loads((out / "bench_hebbian.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_hebbian_provenance_and_timings(hebbian_report: dict) -> None:
    assert hebbian_report["backend"] == "cpu" and hebbian_report["quick"] is True
    assert "--quick" in hebbian_report["command"]
    workloads = hebbian_report["runs"]["cpu"]["workloads"]
    assert set(workloads) == set(HEBBIAN_PEERS)
    for name, work in workloads.items():
        assert sorted({case["threads"] for case in work["cases"]}) == [1, 2], name
        for case in work["cases"]:
            impls = case["implementations"]
            assert set(impls) == {"ours", *HEBBIAN_PEERS[name]}, (name, case["label"])
            for impl, stats in impls.items():
                assert 0 < stats["min_s"] <= stats["median_s"] <= stats["max_s"], (name, impl)
                assert stats["compile_s"] == pytest.approx(
                    max(stats["first_call_s"] - stats["median_s"], 0.0))
            for peer in HEBBIAN_PEERS[name]:
                assert case["ratios"][f"{peer}/ours"] == pytest.approx(
                    impls[peer]["median_s"] / impls["ours"]["median_s"])
            if name != "topk":
                images = case.get("images_per_pass", work["sizes"].get("batch"))
                assert case["images_per_s"]["ours"] == pytest.approx(
                    images / impls["ours"]["median_s"])
    fast_targets = workloads["fast"]["targets"]
    assert set(fast_targets) == {f"torch/ours >= 1.5 at p=3 k=7, threads={t}" for t in (1, 2)}


@pytest.mark.slow
def test_hebbian_results_agree(hebbian_report: dict) -> None:
    workloads = hebbian_report["runs"]["cpu"]["workloads"]
    for case in workloads["fast"]["cases"]:
        checks = case["checks"]
        assert checks["rows_changed_by_training"] > 0
        for peer in HEBBIAN_PEERS["fast"]:
            assert checks[peer]["allclose_rtol_1e-4"], (case["label"], checks)
            assert checks[peer]["max_rel_diff"] < 1e-5
    for case in workloads["slow"]["cases"]:
        checks = case["checks"]
        batch = workloads["slow"]["sizes"]["batch"]
        assert checks["converged_ours"] == checks["converged_numpy"] == batch
        assert checks["max_abs_step_difference"] <= 1
        assert checks["rates_max_abs_diff"] < 1e-3
        assert checks["weights_max_rel_diff"] < 1e-6
    assert all(case["checks"]["indices_equal_torch_topk"] for case in workloads["topk"]["cases"])


@pytest.mark.slow
def test_only_runs_the_named_workloads(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    base = [sys.executable, str(SCRIPT), "--quick", "--backend", "cpu", "--out", str(tmp_path)]
    proc = subprocess.run([*base, "--only", "layouts"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((tmp_path / "bench_kernels.json").read_text(encoding="utf-8"))
    assert set(report["runs"]["cpu"]["workloads"]) == {"layouts"}
    bad = subprocess.run([*base, "--only", "layouts,nope"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert bad.returncode == 2 and "--only: unknown workloads ['nope']" in bad.stderr
