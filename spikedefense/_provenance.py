"""Where a number came from: the git commit of the code and the versions of the packages that
computed it (docs/EVALUATION.md, rigour rules: every record carries them)."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["provenance"]

_PACKAGES = ("torch", "numba", "torchattacks", "foolbox", "numpy")


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown (not run from a git checkout)"
    return f"{commit}{'+uncommitted changes' if dirty else ''}"


@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, Any]:
    """``{"git_commit", "python", "<package>": version, ...}`` of this process (cached)."""
    versions: dict[str, Any] = {"git_commit": _git_commit(), "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
