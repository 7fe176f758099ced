"""Where the compiled CPU kernels are cached: the user's cache folder, never the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import spikedefense.kernels.cpu as cpu_kernels

SCRIPT = ("import numpy as np; from spikedefense.kernels import lif_run, LIFParams; "
          "lif_run(np.ones((2, 1, 3), np.float32), LIFParams(), backend='cpu')")  # fmt: skip


def _compile_in_subprocess(env: dict[str, str]) -> None:
    ours = ("NUMBA_CACHE_DIR", "SPIKEDEFENSE_CACHE_DIR", "XDG_CACHE_HOME")
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    subprocess.run([sys.executable, "-c", SCRIPT], env={**clean, **env}, check=True)


def _cached(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.nbi")) if folder.exists() else []


def test_kernels_are_cached_in_the_user_cache_folder_not_beside_the_sources(tmp_path):
    in_tree = Path(cpu_kernels.__file__).parent / "__pycache__"
    before = _cached(in_tree)
    _compile_in_subprocess({"XDG_CACHE_HOME": str(tmp_path)})
    written = _cached(tmp_path / "spikedefense" / "numba")
    assert any(name.startswith("lif.") for name in written), written
    assert _cached(in_tree) == before


def test_spikedefense_cache_dir_and_numba_cache_dir_are_honoured(tmp_path):
    _compile_in_subprocess({"SPIKEDEFENSE_CACHE_DIR": str(tmp_path / "ours")})
    assert any(n.startswith("lif.") for n in _cached(tmp_path / "ours" / "numba"))
    _compile_in_subprocess({"NUMBA_CACHE_DIR": str(tmp_path / "numba-own"),
                            "SPIKEDEFENSE_CACHE_DIR": str(tmp_path / "unused")})  # fmt: skip
    assert any(n.startswith("lif.") for n in _cached(tmp_path / "numba-own"))
    assert _cached(tmp_path / "unused") == []
