"""Executors: in-process and Ray (a local cluster on loopback with 2 CPUs) give the same
records, a task whose worker dies is retried, and bad addresses fail fast."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spikedefense.evaluation.executor import InProcessExecutor, make_executor


def _square(x: int) -> int:
    return x * x


def _die_once(marker: str, value: int) -> int:
    """Kills its own worker process the first time it runs (the marker file says so)."""
    if not os.path.exists(marker):
        Path(marker).write_text("died once")
        os._exit(1)
    return value + 1


def test_in_process_executor_and_bad_choices() -> None:
    assert dict(InProcessExecutor().map(_square, [(2,), (5,)])) == {(2,): 4, (5,): 25}
    with pytest.raises(ValueError, match="--executor: expected one of local, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="--ray-address: only with --executor ray"):
        make_executor("local", "127.0.0.1:6379")


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RuntimeError, match=r'pip install "spikedefense\[distributed\]"'):
        make_executor("ray")


def test_unreachable_ray_address_fails_within_seconds() -> None:
    pytest.importorskip("ray")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="no Ray head reachable at 127.0.0.1:9"):
        make_executor("ray", "127.0.0.1:9")
    assert time.monotonic() - start < 20
    with pytest.raises(ValueError, match="--ray-address: expected host:port"):
        make_executor("ray", "not an address")


@pytest.fixture(scope="module")
def ray_executor():  # type: ignore[no-untyped-def]
    pytest.importorskip("ray")
    executor = make_executor("ray", num_cpus=2)
    yield executor
    executor.close()


@pytest.fixture
def one_thread():  # type: ignore[no-untyped-def]
    """The in-process run on one PyTorch thread, like each Ray worker: the same float
    reductions, so a borderline image ends the same way on both (with two threads against one,
    the last bits of a gradient can differ and flip it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_ray_retries_a_task_whose_worker_died(ray_executor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = str(tmp_path / "died")
    assert dict(ray_executor.map(_die_once, [(marker, 41)])) == {(marker, 41): 42}
    assert Path(marker).is_file()


def test_ray_records_equal_the_in_process_records(ray_executor, tmp_path: Path,
                                                  one_thread) -> None:  # type: ignore[no-untyped-def]
    from spikedefense.defenses.memory import MemoryDefenseModel
    from spikedefense.models import make_small_cnn
    from spikedefense.models.memory import MemoryAutoencoder
    from spikedefense.studies.memory_attacks import THREATS, MemoryRow
    from spikedefense.studies.memory_units import run_units

    torch.manual_seed(0)
    model = MemoryDefenseModel(make_small_cnn().eval(), MemoryAutoencoder(keep=5).eval())
    x = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    y = model(x).argmax(1)
    rows = [MemoryRow("fgsm", 0.1, {}, THREATS, "1"),
            MemoryRow("pgd", 0.1, {"steps": 2}, ("adaptive",)),
            MemoryRow("square", 0.1, {"n_queries": 3}, ("query",))]  # fmt: skip
    source = make_small_cnn().eval()
    index = np.arange(10)
    local = run_units(model, rows, x, y, index, tmp_path / "local", source=source, tau=0.1,
                      progress=False)  # fmt: skip
    remote = run_units(model, rows, x, y, index, tmp_path / "ray", source=source, tau=0.1,
                       progress=False, executor=ray_executor)  # fmt: skip
    assert len(local) == len(remote) == 6
    for a, b in zip(local, remote, strict=True):
        assert a.name == b.name and a.read_text() == b.read_text()
    # an interrupted run resumes: a removed record is the only unit run again
    remote[2].unlink()
    stamps = {p: p.stat().st_mtime_ns for p in remote if p.is_file()}
    run_units(model, rows, x, y, index, tmp_path / "ray", source=source, tau=0.1,
              progress=False, executor=ray_executor)  # fmt: skip
    assert remote[2].read_text() == local[2].read_text()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())


def test_compare_on_ray_writes_the_records_of_the_in_process_run(ray_executor, one_thread,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    from spikedefense.evaluation.compare import compare

    kwargs = {"n": 12, "tiny": True, "progress": False, "command": "test"}
    local = compare(["cnn"], "embedded", str(tmp_path / "local"), str(tmp_path / "work"),
                    **kwargs)  # fmt: skip
    remote = compare(["cnn"], "embedded", str(tmp_path / "ray"), str(tmp_path / "work"),
                     executor=ray_executor, **kwargs)  # fmt: skip
    records = sorted((tmp_path / "local" / "records").rglob("*.json"))
    assert records
    for path in records:
        twin = tmp_path / "ray" / path.relative_to(tmp_path / "local")
        ours, theirs = json.loads(path.read_text()), json.loads(twin.read_text())
        assert ours.pop("seconds") > 0 and theirs.pop("seconds") > 0  # how long it ran differs
        assert theirs == ours, path.name
    assert local["leaderboard_md"].read_text() == remote["leaderboard_md"].read_text()


class _Refusing:
    """An executor that must not be given any unit (everything is resumed)."""

    name = "ray"

    def map(self, fn, units):  # type: ignore[no-untyped-def]
        units = list(units)
        assert not units, f"{len(units)} units ran again"
        return iter(())


def test_evaluate_on_ray_gives_the_in_process_records_and_resumes(ray_executor, one_thread,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    from spikedefense.defenses.base import ClassifierDefense
    from spikedefense.evaluation.defense_run import defense_evaluation_config, run_defenses
    from spikedefense.evaluation.harness import evaluate_defenses
    from spikedefense.models import make_small_cnn

    def run(name: str, executor=None):  # type: ignore[no-untyped-def]
        return run_defenses(["cnn", "bicnn"], "embedded", "tiny", str(tmp_path / name),
                            str(tmp_path / "work"), command="test", progress=False,
                            executor=executor)  # fmt: skip

    local = run("local")
    remote = run("ray", ray_executor)
    written = sorted(k for k in local if str(local[k]).endswith(".json"))
    assert written and written == sorted(k for k in remote if str(remote[k]).endswith(".json"))
    for kind in written:
        assert remote[kind].read_text() == local[kind].read_text(), kind
    # the driver saves each finished group; a rerun sends no unit to the executor
    torch.manual_seed(0)
    defenses = [ClassifierDefense(make_small_cnn().eval(), f"net{i}", "test") for i in range(2)]
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    y = torch.arange(64) % 10
    config = defense_evaluation_config("tiny", "embedded")
    stem = tmp_path / "progress.json"
    first = evaluate_defenses(defenses, x, y, config, progress=False, checkpoint=stem,
                              executor=ray_executor)  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("progress.json.*")) == [
        "progress.json.net0", "progress.json.net1"]
    again = evaluate_defenses(defenses, x, y, config, progress=False, checkpoint=stem,
                              executor=_Refusing())  # fmt: skip
    assert again == first and {r.defense for r in first.whitebox} == {"net0", "net1"}
