"""``spikedefense demo --quick`` end to end, and the sleep options of the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "spikedefense.cli", *args],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )


@pytest.mark.slow
def test_demo_quick_writes_the_report_folder(tmp_path):
    out = tmp_path / "demo"
    done = _cli("demo", "--quick", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in (
        "report.md",
        "results.json",
        "weights.png",
        "raster.png",
        "reconstructions.png",
        "accuracy_vs_epsilon.png",
        "sleep_summary.md",
        "sleep_report.json",
    ):
        assert (out / name).stat().st_size > 0, name
    records = json.loads((out / "results.json").read_text())
    defenses = {r["defense"] for r in records}
    assert {"none", "defense-vae", "defense-vae-sleep#s0"} <= defenses
    threats = {r["threat_model"] for r in records}
    assert {"none", "gray-box", "white-box-adaptive"} <= threats
    assert all(0.0 <= r["accuracy"] <= 100.0 and r["command"] for r in records)
    report = (out / "report.md").read_text()
    assert "Def-VAE-Sleep" in report and "What the sleep did" in report
    # The mini leaderboard: every defense of the four documents and the baselines, every row run.
    from spikedefense.demo import LEADERBOARD

    board = json.loads((out / "leaderboard" / "leaderboard.json").read_text())
    assert [e["defense"] for e in board["entries"]] == list(LEADERBOARD)
    assert all(e["rows_done"] == e["rows_planned"] > 0 for e in board["entries"])
    assert board["profile"] == "tiny" and (out / "leaderboard" / "leaderboard.png").is_file()
    assert "Mini leaderboard" in report and "| memory-defense |" in report
    # Sleep changed the VAE: the weight histograms file has before and after for S1..S4.
    sleep = json.loads((out / "sleep_report.json").read_text())["defense-vae#s0"]
    assert all(sleep["layers"][n]["weight_change"]["max_abs"] > 0 for n in ("S1", "S2", "S3"))


def test_cli_sleep_options_are_checked(tmp_path):
    bad = _cli("demo", "--backend", "gpu", "--out", str(tmp_path))
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    (tmp_path / "a-file").write_text("")
    bad = _cli("demo", "--quick", "--out", str(tmp_path / "a-file"), "--quiet")
    assert bad.returncode == 2 and "a-file" in bad.stderr and "Traceback" not in bad.stderr
    bad = _cli("evaluate", "--sleep", "--profile", "reference", "--out", str(tmp_path))
    assert bad.returncode == 2 and "--profile" in bad.stderr and "Traceback" not in bad.stderr


def test_a_demo_folder_of_the_other_size_is_refused_before_any_work(tmp_path):
    from spikedefense.demo import run_demo
    from spikedefense.evaluation.compare import LAYOUT

    board = tmp_path / "leaderboard"
    board.mkdir()
    (board / "compare.json").write_text(json.dumps({"layout": LAYOUT, "profile": "demo"}))
    with pytest.raises(ValueError, match="profile 'demo' there, 'tiny' now"):
        run_demo(str(tmp_path), quick=True, progress=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["compare.json", "leaderboard"]
