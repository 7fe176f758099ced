"""The wheel ships only the spikedefense top-level package, with its data and py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_only_spikedefense(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("spikedefense-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"spikedefense"}
    for needed in ("spikedefense/py.typed", "spikedefense/kernels/__init__.py",
                   "spikedefense/kernels/cpu/lif.py", "spikedefense/kernels/cuda/lif.py",
                   "spikedefense/data/embedded/train-images-idx3-ubyte.gz",
                   "spikedefense/data/embedded/README.md"):
        assert needed in names, needed
    assert not any(name.startswith(("kernels/", "tests/", "benchmarks/")) for name in names)
    # Every module of the source tree is shipped (setup.cfg lists packages by hand).
    sources = [f"spikedefense/{p.relative_to(ROOT / 'spikedefense').as_posix()}"
               for p in (ROOT / "spikedefense").rglob("*.py")]
    sources += [f"spikedefense/kernels/{p.relative_to(ROOT / 'kernels').as_posix()}"
                for p in (ROOT / "kernels").rglob("*.py")]
    missing = sorted(set(sources) - set(names))
    assert not missing, f"not in the wheel (add their package to setup.cfg): {missing}"


def test_cuda_kernels_compile_to_ptx_without_fma() -> None:
    """Every CUDA kernel compiles for sm_90 with the real NVVM and contains no fused mul-add.

    Needs libNVVM/NVRTC (a CUDA toolkit or the nvidia-cuda-nvrtc wheel), not a GPU.
    """
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_cuda_ptx.py")],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok  ") >= 17
