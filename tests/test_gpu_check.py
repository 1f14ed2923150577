"""The device check's rehearsal: scripts/gpu-check.sh --dry-run runs its steps and reports them."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(tmp_path, *extra, env=None):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gpu_check.py"), str(out), *extra],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    report = json.loads((out / "gpu-check.json").read_text())
    return proc, report, out


def test_dry_run_trains_without_pooch_and_writes_its_report(tmp_path):
    proc, report, out = _check(tmp_path, "--dry-run", "--only", "environment", "import-without-pooch",
                               env={"GPUNET_FAKECUPY": str(tmp_path / "none")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["mode"] == "dry-run" and report["backend"] == "numpy" and report["passed"]
    assert [s["step"] for s in report["steps"]] == ["environment", "import-without-pooch"]
    assert json.loads((out / "environment.log").read_text().split("\n", 1)[1].split("\n}")[0] + "\n}")["gpunet_backend"] == "numpy"
    assert "val_accuracy" in (out / "import-without-pooch.log").read_text()
    assert (out / "nvidia-smi.txt").exists()


def test_device_mode_without_a_gpu_fails_instead_of_skipping(tmp_path):
    proc, report, _ = _check(tmp_path, "--only", "environment")
    assert proc.returncode == 1
    assert report["mode"] == "device" and not report["passed"]
    assert "CuPy" in report["steps"][0]["tail"]  # the backend says what is missing
