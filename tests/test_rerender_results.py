"""``spikedefense report`` re-renders every committed results folder with unchanged numbers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from spikedefense.evaluation.records import read_json
from spikedefense.studies.render import render_folder

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p.parent for p in (ROOT / "results").rglob("whitebox.json"))
_NUMBER = re.compile(r"-?\d+\.\d+")


def _numbers(path: Path) -> list[str]:
    return _NUMBER.findall(path.read_text()) if path.is_file() else []


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(ROOT)) for f in FOLDERS])
def test_report_rerenders_a_committed_folder_with_the_same_numbers(
    folder: Path, tmp_path: Path
) -> None:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.png"))
    render_folder(copy)
    for stem in ("whitebox", "blackbox", "sweep"):
        if (folder / f"{stem}.json").is_file():
            assert read_json(copy / f"{stem}.json") == read_json(folder / f"{stem}.json")
    for name in ("whitebox.md", "blackbox.md", "sweep.md", "sleep_summary.md"):
        assert _numbers(copy / name) == _numbers(folder / name), f"{folder.name}/{name}"


def test_there_are_committed_folders_to_compare() -> None:
    assert len(FOLDERS) >= 3
