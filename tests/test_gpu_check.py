"""The device check (scripts/gpu-check.sh): its plan against the deadline, its results, and its
rehearsal as the lent machine runs it.

The rehearsal runs ``gpu-check.sh --dry-run`` from an uninstalled copy of the checkout, in an
environment that sees only the device image's packages this machine has (numpy, h5py, pytest,
pytest-xdist, torch, mpi4py and what they require; see ``restricted_env.py``): no pooch, Keras,
JAX, matplotlib, tensorboard(X) or threadpoolctl, and gpunet not installed. By default it runs
the test steps on a few test files and one benchmark on a token of its data; with ``--slow``, the
whole check (80 s on 2 idle cores).
"""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from types import SimpleNamespace

import pytest

from gpunet import backend
from restricted_env import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(ROOT, "scripts", "gpu_check.py"))
gpu_check = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # registered: it defines dataclasses
_spec.loader.exec_module(gpu_check)

has_compiler = pytest.mark.skipif(not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
                                  reason="the CuPy emulation compiles kernels with a C++ compiler, and none is installed")
# what the default rehearsal runs: fused kernels against their twins on the emulation (gpu-tests),
# a module skipped for matplotlib (an explained skip), a Keras script in a subprocess and the
# loaders without pooch (suite-on-cupy)
SUBSET = ["tests/kernels/test_kernels.py", "tests/test_plotting.py", "tests/datasets/test_loaders.py",
          "tests/keras_scripts/test_scripts.py::test_runs_on_gpunet[mlp_to_categorical]"]


def _args(**overrides):
    values = {"dry_run": False, "workers": None, "repeats": 3, "only": None, "tests": ["tests"]}
    return SimpleNamespace(**{**values, **overrides})


# ---------------------------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------------------------
def test_steps_run_most_valuable_first_and_fit_the_deadline(tmp_path):
    steps = gpu_check.plan(_args(), str(tmp_path))
    assert [s.name for s in steps] == ["environment", "gpu-tests", "train-without-pooch", "suite-on-cupy", "bench-mlp",
                                       "bench-convnet", "bench-small", "bench-wide", "bench-mixed", "bench-compiled"]
    assert all(s.required for s in steps[:4]) and not any(s.required for s in steps[4:])
    gpu_tests, bench = steps[1], steps[4]
    assert gpu_check.schedule(gpu_tests, 1000, False) == (gpu_tests.command, gpu_tests.limit_s, None)
    assert gpu_check.schedule(gpu_tests, 70, False) == (gpu_tests.command, 70, None)  # cut to the time left
    assert gpu_check.schedule(gpu_tests, 0.5, False)[0] is None
    assert bench.command[-2:] == ["--repeats", "3"]
    command, limit, note = gpu_check.schedule(bench, bench.limit_s - 1, False)
    assert command[-2:] == ["--repeats", "1"] and limit == bench.limit_s - 1 and "cut to fit" in note
    assert gpu_check.schedule(bench, bench.min_s - 1, False) == (None, 0, f"not run ({bench.min_s - 1:.0f} s left of the deadline)")


def test_a_dry_run_cuts_the_benchmarks_to_a_token_size(tmp_path):
    steps = {s.name: s for s in gpu_check.plan(_args(dry_run=True), str(tmp_path))}
    assert steps["bench-mlp"].command[-4:] == ["--configs", "mlp", "--repeats", "1"]
    assert "x[:2000]" in steps["bench-mlp"].command[2]  # bench_train.py on 2,000 samples
    assert steps["bench-convnet"].command[2:4] == ["--samples", "512"] and steps["bench-convnet"].command[-1] == "1"
    for name in ("bench-mixed", "bench-compiled"):
        status = gpu_check.schedule(steps[name], 1000, True)
        assert status[0] is None and status[2].startswith("skipped in a dry run")
        assert gpu_check.schedule(steps[name], 1000, False)[0] is not None


def test_test_steps_share_the_device_between_workers(tmp_path):
    command, env = gpu_check._pytest(str(tmp_path), "gpu-tests", 8)
    assert command[command.index("-n") + 1] == "8"
    assert env["CUPY_GPU_MEMORY_LIMIT"] == "11%"  # eight pools, 90% of the device between them
    assert int(env["OMP_NUM_THREADS"]) == max(1, (os.cpu_count() or 1) // 8)
    command, env = gpu_check._pytest(str(tmp_path), "gpu-tests", 0)
    assert "-n" not in command and env == {}
    assert gpu_check._workers(3) == 3 and gpu_check._workers(-1) == 0


def test_the_environment_is_the_checkout_and_the_emulation(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    dry = gpu_check.environment(_args(dry_run=True))
    assert dry["PYTHONPATH"].split(os.pathsep) == [os.path.join(ROOT, "tests", "emulated_cupy"), ROOT, "/elsewhere"]
    device = gpu_check.environment(_args())
    assert device["PYTHONPATH"].split(os.pathsep) == [ROOT, "/elsewhere"]
    assert (device["GPUNET_CHECK_MODE"], device["GPUNET_BACKEND"], device["GPUNET_OFFLINE"]) == ("device", "cupy", "1")


# ---------------------------------------------------------------------------------------------
# running it
# ---------------------------------------------------------------------------------------------
def _check(out, *extra, python=sys.executable, cwd=ROOT, env=None, timeout=300):
    return subprocess.run(["bash", os.path.join(cwd, "scripts", "gpu-check.sh"), str(out), *extra], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHON": python, **(env or {})})


def _results(out):
    assert sorted(os.listdir(out)) == sorted(gpu_check.RESULT_FILES)  # a lent machine returns at most 8 files
    report = json.loads((out / "gpu-check.json").read_text())
    with tarfile.open(out / "logs.tar.gz") as tar:
        logs = {os.path.basename(m.name): tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}
    return report, logs, (out / "summary.txt").read_text()


def test_device_mode_without_a_gpu_fails_instead_of_skipping(tmp_path):
    if backend.is_gpu_available():
        pytest.skip("this machine has a usable CUDA device (or the emulation of one): device mode is no failure here")
    proc = _check(tmp_path / "out", "--only", "environment")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report, logs, summary = _results(tmp_path / "out")
    assert report["mode"] == "device" and not report["passed"]
    assert report["steps"][0]["status"].startswith("failed") and "no usable CUDA device" in logs["environment.log"]
    assert "FAILED: environment" in summary.splitlines()[0]


@pytest.fixture(scope="module")
def lent_machine(tmp_path_factory):
    """An uninstalled copy of the checkout and an interpreter that sees only the device image's
    packages (those of them this environment has)."""
    base = tmp_path_factory.mktemp("lent")
    python = build(base / "env")
    checkout = base / "checkout"
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the rehearsal copies the checkout as git lists it, and this is not a git checkout")
    for name in filter(None, listed):
        if os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(checkout / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), checkout / name)
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('gpunet'), u.find_spec('pooch'))"],
                           cwd=base, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.stdout.split() == ["None", "None"], probe.stdout + probe.stderr  # neither installed there
    return SimpleNamespace(python=str(python), checkout=str(checkout))


def _rehearse(lent, out, *extra, timeout=300):
    env = {"PYTHONPATH": "", "GPUNET_BACKEND": ""}
    return _check(out, "--dry-run", *extra, python=lent.python, cwd=lent.checkout, env=env, timeout=timeout)


@has_compiler
def test_rehearsal_on_the_device_image_packages_from_an_uninstalled_checkout(lent_machine, tmp_path):
    out = tmp_path / "out"
    proc = _rehearse(lent_machine, out, "--only", "environment", "gpu-tests", "train-without-pooch", "suite-on-cupy",
                     "bench-convnet", "bench-compiled", "--tests", *SUBSET)
    report, logs, summary = _results(out)
    assert proc.returncode == 0, summary + proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = {s["step"]: s for s in report["steps"]}
    assert report["mode"] == "dry-run" and report["passed"] and summary.startswith("gpu-check dry-run: passed")
    environment = steps["environment"]["environment"]
    assert environment["gpunet_from"] == lent_machine.checkout and environment["gpunet_backend"] == "cupy"
    assert {"pooch", "keras", "matplotlib"} <= set(environment["optional_missing"])
    assert steps["gpu-tests"]["tests"]["passed"] >= 30 and steps["gpu-tests"]["unexplained_skips"] == []
    assert any("matplotlib" in reason for reason in steps["gpu-tests"]["skips"])  # skipped, and explained
    assert steps["suite-on-cupy"]["tests"]["failures"] == 0 and steps["suite-on-cupy"]["tests"]["passed"] >= 30
    assert "backend cupy val_accuracy" in logs["train-without-pooch.log"]
    assert {"gpu-tests.xml", "suite-on-cupy.xml", "bench-convnet.json"} <= set(logs)
    assert steps["bench-compiled"]["status"].startswith("skipped in a dry run")


@has_compiler
def test_a_step_over_its_limit_is_stopped_and_still_reports_its_tests(lent_machine, tmp_path):
    out = tmp_path / "out"
    # a quick test, then one that outlasts any limit (written into the rehearsal's own copy of the checkout)
    probe = os.path.join(lent_machine.checkout, "tests", "test_step_limit_probe.py")
    with open(probe, "w") as f:
        f.write("import time\n\ndef test_quick():\n    assert True\n\ndef test_endless():\n    time.sleep(600)\n")
    try:
        proc = _rehearse(lent_machine, out, "--deadline", "25", "--workers", "0", "--only", "suite-on-cupy",
                         "--tests", "tests/test_step_limit_probe.py")
    finally:
        os.unlink(probe)
    report, logs, _ = _results(out)
    assert proc.returncode == 1
    step = report["steps"][0]
    limit = 25 - gpu_check.MARGIN_S
    assert step["status"] == f"failed (over its {limit} s limit)" and step["limit_s"] == limit
    assert step["tests"]["passed"] >= 1  # pytest, stopped as by Ctrl-C, still wrote what it ran
    assert report["seconds"] <= 25 + 10  # stopped near its deadline (its graces and the packing, on a loaded machine)


def _running(python, besides=()):
    """The processes running ``python`` (the suite's workers, the scripts its tests start), but
    those in ``besides`` (the check itself: gpu-check.sh execs the interpreter in its process)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if entry.isdigit() and f.read().split(b"\0")[0].decode(errors="replace") == python:
                    found.append(int(entry))
    return [pid for pid in found if pid not in besides]


@has_compiler
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="looks for leftover processes in /proc")
def test_a_stopped_check_leaves_its_results(lent_machine, tmp_path):
    """A machine taken back mid-step: the step in progress is recorded as interrupted, the steps
    done keep their results, and the step's processes are ended."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": lent_machine.python, "PYTHONPATH": "", "GPUNET_BACKEND": ""}
    proc = subprocess.Popen(["bash", os.path.join(lent_machine.checkout, "scripts", "gpu-check.sh"), "--dry-run", str(out),
                             "--only", "environment", "suite-on-cupy"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            report = json.loads((out / "gpu-check.json").read_text()) if (out / "gpu-check.json").exists() else {"steps": []}
            if [s["status"] for s in report["steps"]] == ["passed", "running"]:
                break
        else:
            pytest.fail("the suite step never started")
        time.sleep(3)
        assert _running(lent_machine.python, besides=(proc.pid,))  # pytest (and its workers): what the stop must end
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
    assert proc.returncode == 1, output
    assert _running(lent_machine.python) == [], "the interrupted step's processes outlived the check"
    report, logs, summary = _results(out)
    assert [s["status"] for s in report["steps"]] == ["passed", "failed (interrupted by SIGTERM)"]
    assert "environment.log" in logs and "suite-on-cupy.log" in logs
    assert "FAILED: suite-on-cupy" in summary


@pytest.mark.slow
@has_compiler
def test_full_rehearsal(lent_machine, tmp_path):
    out = tmp_path / "out"
    start = time.monotonic()
    proc = _rehearse(lent_machine, out, timeout=600)
    report, _, summary = _results(out)
    print(f"full dry run: {time.monotonic() - start:.0f} s\n{summary}")
    assert proc.returncode == 0 and report["passed"], summary
    assert report["seconds"] < report["deadline_s"]


def test_a_step_whose_junit_xml_was_cut_short_fails_and_the_check_goes_on(tmp_path):
    """pytest killed while writing its junit XML: the step is failed with the reason, instead of
    the XML's parse error ending the whole check."""
    cut = tmp_path / "cut.xml"
    script = f"open({str(cut)!r}, 'w').write('<testsuites><testsuite tests=\"3\"><testcase')"
    step = gpu_check.Step("cut", [sys.executable, "-c", script], 30, junit="cut.xml")
    result = gpu_check.run_step(step, step.command, 30, dict(os.environ), str(tmp_path))
    assert result["status"].startswith("failed (its junit XML is unreadable") and "tests" not in result
