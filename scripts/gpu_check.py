"""The device check: what a GPU machine must confirm, in one call of under 8 minutes.

    scripts/gpu-check.sh OUTDIR              on a CUDA machine, from a plain checkout
    scripts/gpu-check.sh OUTDIR --dry-run    the same steps on this CPU machine (rehearsal)

Steps, each under its own time limit, each recorded in ``OUTDIR/gpu-check.json`` (status,
seconds, the tail of its output) with its full output in ``OUTDIR/<step>.log``:

1. ``environment``: ``nvidia-smi``, the Python, NumPy, CuPy, CUDA and PyTorch versions, the device;
2. ``import-without-pooch``: gpunet imports and trains a small model with ``pooch`` unimportable;
3. ``gpu-tests``: the ``gpu``-marked tests, which include every fused kernel against its NumPy twin;
4. ``suite-on-cupy``: the rest of the test suite with CuPy as the default backend (stops at 30 failures);
5. ``bench-mlp``: ``benchmarks/bench_train.py`` (gpunet on CuPy against PyTorch CUDA and the floor);
6. ``bench-convnet``: ``benchmarks/bench_convnet.py``;
7. ``bench-mixed``: the mlp and wide configurations in mixed float16, against PyTorch's autocast;
8. ``bench-compiled``: the small configuration against ``torch.compile(mode="reduce-overhead")``.

Limits add up to under 15 minutes but the steps take far less (about 5 minutes expected on an
H100); a step over its limit is stopped and recorded, and the next one runs. ``--dry-run`` runs
the same commands without a GPU: on the CPU with CuPy emulated when the
emulation is found (``GPUNET_FAKECUPY``, a folder holding a stand-in ``cupy`` package), else on
NumPy, with the benchmarks cut to one repeat of the smallest configuration. Every step runs even
when an earlier one fails; the exit status is non-zero when any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ENVIRONMENT = r"""
import json, os, platform, sys
info = {"python": sys.version.split()[0], "platform": platform.platform()}
import numpy; info["numpy"] = numpy.__version__
try:
    import cupy
    info["cupy"] = cupy.__version__
    try:
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        info["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
        props = cupy.cuda.runtime.getDeviceProperties(0)
        info["device"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["device_memory_gib"] = round(props["totalGlobalMem"] / 2**30, 1)
        info["compute_capability"] = f'{props["major"]}.{props["minor"]}'
    except Exception as exc:
        info["cuda_error"] = repr(exc)
except Exception as exc:
    info["cupy_error"] = repr(exc)
try:
    import torch
    info["torch"] = torch.__version__
    info["torch_cuda"] = torch.cuda.is_available()
except Exception as exc:
    info["torch_error"] = repr(exc)
import gpunet
from gpunet import backend
info["gpunet"] = gpunet.__version__
info["gpunet_backend"] = backend.name()
print(json.dumps(info, indent=2))
if os.environ.get("GPUNET_CHECK_MODE") == "device":
    assert backend.is_gpu_available() and backend.name() == "cupy", "no usable CUDA device: this is not a device check"
"""

WITHOUT_POOCH = r"""
import sys
sys.modules["pooch"] = None  # any `import pooch` now raises ImportError
import numpy as np
import gpunet
from gpunet import backend, layers
gpunet.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((512, 20), dtype=np.float32)
y = (x[:, :10].sum(1) > x[:, 10:].sum(1)).astype(np.int64)
model = gpunet.Sequential([layers.Input((20,)), layers.Dense(32, activation="relu"), layers.Dropout(0.1),
                           layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=10, validation_split=0.25, verbose=0)
print("backend", backend.name(), "val_accuracy", history.history["val_accuracy"][-1])
assert history.history["val_accuracy"][-1] > 0.7, history.history
"""


def _steps(args) -> list:
    python = sys.executable
    pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no"]
    repeats = "1" if args.dry_run else str(args.repeats)
    steps = [
        ("environment", [python, "-c", ENVIRONMENT], 60),
        ("import-without-pooch", [python, "-c", WITHOUT_POOCH], 90),
        ("gpu-tests", pytest + ["-m", "gpu", "--maxfail=30", "--junitxml", os.path.join(args.out, "gpu-tests.xml"), "tests"], 120),
        ("suite-on-cupy", pytest + ["--maxfail=30", "-m", "not gpu", "--junitxml", os.path.join(args.out, "suite-on-cupy.xml"),
                                    "tests"], 150),
        ("bench-mlp", [python, "benchmarks/bench_train.py", "--repeats", repeats, "--json", os.path.join(args.out, "bench-mlp.json")]
         + (["--configs", "small"] if args.dry_run else []), 150),
        ("bench-convnet", [python, "benchmarks/bench_convnet.py", "--repeats", repeats, "--json",
                           os.path.join(args.out, "bench-convnet.json")] + (["--samples", "2560"] if args.dry_run else []), 120),
        ("bench-mixed", [python, "benchmarks/bench_train.py", "--mixed", "--configs", "mlp", "wide", "--repeats", repeats,
                         "--json", os.path.join(args.out, "bench-mixed.json")], 90),
        ("bench-compiled", [python, "benchmarks/bench_train.py", "--torch-compile", "--configs", "small", "--repeats", repeats,
                            "--json", os.path.join(args.out, "bench-compiled.json")], 120),
    ]
    if args.dry_run:  # float16 is emulated (slowly) by NumPy, and compiling needs a GPU to mean anything
        steps = [s for s in steps if s[0] not in ("bench-mixed", "bench-compiled")]
    if args.only:
        steps = [s for s in steps if s[0] in args.only]
    if args.dry_run:  # the benchmarks' timings mean nothing on the emulation: run them on NumPy
        steps = [(name, cmd, limit, {"GPUNET_BACKEND": "numpy"} if name.startswith("bench") else {}) for name, cmd, limit in steps]
    else:
        steps = [(name, cmd, limit, {}) for name, cmd, limit in steps]
    return steps


def _environment(args) -> dict:
    env = dict(os.environ)
    path = [ROOT]
    if args.dry_run:
        fake = os.environ.get("GPUNET_FAKECUPY") or os.path.join(os.path.dirname(ROOT), "shared", "tools", "fakecupy")
        if os.path.isdir(os.path.join(fake, "cupy")):
            path.insert(0, fake)
            env["GPUNET_BACKEND"] = "cupy"
        else:
            env["GPUNET_BACKEND"] = "numpy"
    else:
        env["GPUNET_BACKEND"] = "cupy"
    env["PYTHONPATH"] = os.pathsep.join(path + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    env["GPUNET_CHECK_MODE"] = "dry-run" if args.dry_run else "device"
    return env


def _junit_counts(path) -> dict:
    import xml.etree.ElementTree as ElementTree  # noqa: PLC0415

    root = ElementTree.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {k: int(suite.get(k, 0)) for k in ("tests", "skipped", "failures", "errors")}


def _run(name, cmd, limit, env, out) -> dict:
    start = time.perf_counter()
    log_path = os.path.join(out, f"{name}.log")
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd if name not in ("environment", "import-without-pooch") else cmd[:2] + ["<script>"]) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=limit)
            status = "passed" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            status = f"failed (over its {limit} s limit)"
    seconds = time.perf_counter() - start
    junit = os.path.join(out, f"{name}.xml")
    if status == "passed" and os.path.exists(junit):
        counts = _junit_counts(junit)
        if counts["tests"] - counts["skipped"] == 0:
            status = "failed (every test was skipped)"
    with open(log_path) as log:
        tail = log.read()[-3000:]
    return {"step": name, "status": status, "seconds": round(seconds, 1), "limit_s": limit, "log": log_path, "tail": tail}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder for gpu-check.json and the steps' logs (created if missing)")
    parser.add_argument("--dry-run", action="store_true", help="rehearse on this machine without a GPU")
    parser.add_argument("--repeats", type=int, default=3, help="benchmark repeats on the GPU (default 3)")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    args.out = os.path.abspath(args.out)
    env = _environment(args)
    report = {"mode": env["GPUNET_CHECK_MODE"], "backend": env["GPUNET_BACKEND"], "pythonpath": env["PYTHONPATH"], "steps": []}
    print(f"{report['mode']}: backend {report['backend']}, PYTHONPATH {env['PYTHONPATH']}", flush=True)
    smi = shutil.which("nvidia-smi")
    if smi:
        proc = subprocess.run([smi], capture_output=True, text=True, timeout=30)
        report["nvidia_smi"] = proc.stdout + proc.stderr
    else:
        report["nvidia_smi"] = "nvidia-smi not found"
    with open(os.path.join(args.out, "nvidia-smi.txt"), "w") as f:
        f.write(report["nvidia_smi"])
    total = time.perf_counter()
    for name, cmd, limit, extra in _steps(args):
        result = _run(name, cmd, limit, {**env, **extra}, args.out)
        if name in ("gpu-tests", "suite-on-cupy") and os.path.exists(os.path.join(args.out, f"{name}.xml")):
            result["tests"] = _junit_counts(os.path.join(args.out, f"{name}.xml"))
        report["steps"].append(result)
        print(f"{name:22s} {result['status']:28s} {result['seconds']:7.1f} s", flush=True)
        with open(os.path.join(args.out, "gpu-check.json"), "w") as f:
            json.dump(report, f, indent=2)
    report["seconds"] = round(time.perf_counter() - total, 1)
    report["passed"] = all(s["status"] == "passed" for s in report["steps"])
    with open(os.path.join(args.out, "gpu-check.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"{'all steps passed' if report['passed'] else 'some steps FAILED'} in {report['seconds']} s; details in {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
