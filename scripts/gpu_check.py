"""The device check: what a lent GPU machine must confirm, in one command within a deadline.

    scripts/gpu-check.sh OUTDIR              on a CUDA machine, from a plain (uninstalled) checkout
    scripts/gpu-check.sh --dry-run OUTDIR    the same plan on this CPU, on tests/emulated_cupy

A lent machine gives a session a few minutes and returns at most 8 files, so the check works to a
global deadline (``--deadline``, 300 s by default): each step's time limit is cut to what is left,
the steps run most valuable first, and a step that no longer fits is recorded as not run. The
steps:

1. ``environment``: ``nvidia-smi``, the versions (Python, NumPy, CuPy, CUDA, PyTorch), the device,
   which optional packages are present; in device mode it fails when no CUDA device is usable;
2. ``gpu-tests``: the ``gpu``-marked tests (every fused kernel against its NumPy twin, CUDA-graph
   capture, the cuBLAS and NCCL paths); it fails when a test is skipped for any reason but a
   missing optional package (see :func:`unexplained_skips`);
3. ``train-without-pooch``: gpunet imports and trains a small model with ``pooch`` unimportable;
4. ``suite-on-cupy``: the rest of the suite with CuPy as the default backend;
5. the benchmarks, each cut to the time left (fewer repeats, or not run): ``bench-mlp``,
   ``bench-convnet``, ``bench-small``, ``bench-wide``, ``bench-mixed`` (float16 against PyTorch's
   autocast), ``bench-compiled`` (against ``torch.compile``).

The test steps run on pytest-xdist's workers where it is installed (``--workers``): each worker is
a process with its own CUDA context and CuPy memory pool, so each pool is capped at its share of
the device (``CUPY_GPU_MEMORY_LIMIT``) and the BLAS threads at the worker's share of the cores;
CuPy's kernel cache on disk is shared, and safe to share (CuPy writes each entry to a temporary
file and renames it). Benchmarks run after the tests, alone.

What comes back, in OUTDIR (rewritten after every step, so a machine taken back mid-check still
leaves the steps done): ``gpu-check.json`` (every step's status, time, limit, test counts, skip
reasons, failed tests, output tail), ``summary.txt`` (one line a step), and ``logs.tar.gz`` (each
step's full log, junit XML and benchmark JSON). The exit status is 0 when every test step passed
and no benchmark failed (a benchmark cut for time is not a failure).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATION = os.path.join(ROOT, "tests", "emulated_cupy")
RESULT_FILES = ("gpu-check.json", "summary.txt", "logs.tar.gz")
DEFAULT_DEADLINE_S = 300
STOP_GRACE_S = (5, 2)  # a step over its limit: seconds given after Ctrl-C, then after SIGTERM, before SIGKILL
MARGIN_S = 10  # kept back from the deadline for stopping a step (the graces above) and packing the results

# Optional packages a test may be skipped for, by the names skip reasons use; a skip naming one
# of them is explained only when it is really missing here.
OPTIONAL = {
    "keras": "keras", "jax": "jax", "tensorflow": "tensorflow", "tensorboard": "tensorboard",
    "tensorboardX": "tensorboardX", "matplotlib": "matplotlib", "torch": "torch", "PyTorch": "torch",
    "mpi4py": "mpi4py", "threadpoolctl": "threadpoolctl", "ml_dtypes": "ml_dtypes", "pooch": "pooch",
    "scipy": "scipy", "mpirun": None, "NCCL": "cupy.cuda.nccl",
}
SLOW_REASON = "slow: run with --slow"  # tests/conftest.py's reason for a deselected slow test
# the start of the reason a test of the CPU emulation itself gives on a real GPU (tests/test_cupy_contract.py)
EMULATION_ONLY = "only the CPU emulation of CuPy can check this"

ENVIRONMENT = r"""
import importlib.util, json, os, platform, shutil, subprocess, sys
info = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}
smi = shutil.which("nvidia-smi")
if smi:
    subprocess.run([smi], timeout=20)
    query = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20)
    info["nvidia_smi"] = query.stdout.strip() or query.stderr.strip()
else:
    info["nvidia_smi"] = "not found"
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
info["optional_present"] = sorted(m for m in OPTIONAL if importlib.util.find_spec(m) is not None)
info["optional_missing"] = sorted(m for m in OPTIONAL if importlib.util.find_spec(m) is None)
info["xdist"] = importlib.util.find_spec("xdist") is not None
import gpunet
from gpunet import backend
info["gpunet"] = gpunet.__version__
info["gpunet_from"] = os.path.dirname(os.path.dirname(gpunet.__file__))
try:
    info["gpunet_backend"] = backend.name()
except Exception as exc:
    info["gpunet_backend_error"] = str(exc)
print("ENVIRONMENT " + json.dumps(info))
if os.environ.get("GPUNET_CHECK_MODE") == "device":
    assert info.get("gpunet_backend") == "cupy" and backend.is_gpu_available(), (
        "no usable CUDA device: this is not a device check; " + info.get("gpunet_backend_error", ""))
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
assert backend.name() == "cupy", "the check trains on CuPy"
assert history.history["val_accuracy"][-1] > 0.7, history.history
"""

# bench_train.py on its first 2,000 samples, for a dry run: the same code, a token of the time
TOKEN_BENCH_TRAIN = r"""
import sys
sys.path.insert(0, "benchmarks")
import bench_train
full_data = bench_train.load_data
def token_data():
    x, y, source = full_data()
    return x[:2000], y[:2000], source + ", its first 2000 samples (a dry run)"
bench_train.load_data = token_data
bench_train.main(sys.argv[1:])
"""


# ---------------------------------------------------------------------------------------------
# skips: which ones mean "not run here" rather than "an optional package is missing"
# ---------------------------------------------------------------------------------------------
def is_missing(name: str) -> bool:
    """Whether the optional package (or, for ``mpirun``, the program) ``name`` is absent here."""
    module = OPTIONAL.get(name, name)
    if module is None:
        return shutil.which(name) is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), name))
    if module == "cupy.cuda.nccl":  # CuPy's NCCL module imports without the library; ``available`` says
        try:
            from cupy.cuda import nccl  # noqa: PLC0415
        except Exception:  # noqa: BLE001 - no CuPy, or CuPy built without NCCL
            return True
        return not getattr(nccl, "available", True)
    return importlib.util.find_spec(module) is None


def unexplained_skips(reasons, missing=is_missing, slow_selected: bool = False) -> list:
    """The skip reasons that a missing optional package does not explain.

    A reason is explained when it names an optional package of :data:`OPTIONAL` that
    ``missing(name)`` confirms is absent (``"could not import 'matplotlib'"`` where matplotlib
    is missing), when it is the suite's slow-test reason and ``--slow`` was not given, or when a
    test of the CPU emulation itself says so on a real GPU (:data:`EMULATION_ONLY`).
    "no usable CUDA device", or a reason naming only packages that are present, is unexplained.
    """
    unexplained = []
    for reason in reasons:
        if reason.strip() == SLOW_REASON and not slow_selected:
            continue
        if reason.strip().startswith(EMULATION_ONLY):
            continue
        named = [name for name in OPTIONAL if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", reason)]
        if not any(missing(name) for name in named):
            unexplained.append(reason)
    return unexplained


def junit_results(path) -> dict:
    """Counts, skip reasons and failed test ids from a junit XML file pytest wrote."""
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "skipped", "failures", "errors")}
    skips, failed = [], []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        for element in case:
            if element.tag == "skipped":
                skips.append(_skip_reason(element))
            elif element.tag in ("failure", "error"):
                failed.append(name)
    counts["passed"] = counts["tests"] - counts["skipped"] - counts["failures"] - counts["errors"]
    return {"counts": counts, "skips": skips, "failed": failed}


def _skip_reason(element) -> str:
    """A junit ``<skipped>``'s reason; a module skipped at collection keeps it in the element's
    text, as the repr of ``(path, line, "Skipped: reason")``."""
    message = element.get("message", "")
    if message == "collection skipped" and element.text:
        with contextlib.suppress(ValueError, SyntaxError, IndexError, TypeError):
            return str(ast.literal_eval(element.text.strip())[2]).removeprefix("Skipped: ")
    return message


def _strip_location(reason: str) -> str:
    """A skip message without the ``path:line:`` pytest may put in front."""
    return re.sub(r"^[\w./\\-]+\.py:\d+: ", "", reason)


# ---------------------------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    command: list
    limit_s: float  # at most this long; less when the deadline is nearer
    required: bool = True  # a test step (must pass) or a benchmark (may be cut for time)
    env: dict = field(default_factory=dict)
    junit: str | None = None
    gpu_tests: bool = False  # judge its skips with unexplained_skips
    min_s: float = 0  # not started with less time than this left
    cut: tuple = ()  # (seconds needed, replacement command): the first that fits when the full one does not
    why_not: str | None = None  # a reason never to run it in this mode


def _workers(requested) -> int:
    if requested is not None:
        return max(0, requested)
    if importlib.util.find_spec("xdist") is None:
        return 0
    return min(os.cpu_count() or 1, 8)


def _pytest(work: str, name: str, workers: int) -> tuple:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "-rs", "--tb=short",
               "--junitxml", os.path.join(work, f"{name}.xml")]
    env = {}
    if workers > 1:
        command += ["-n", str(workers)]
        share = max(1, (os.cpu_count() or 1) // workers)
        env = {"CUPY_GPU_MEMORY_LIMIT": f"{90 // workers}%", "OMP_NUM_THREADS": str(share),
               "OPENBLAS_NUM_THREADS": str(share), "MKL_NUM_THREADS": str(share)}
    if importlib.util.find_spec("pytest_timeout") is not None:
        command += ["--timeout", "120"]  # one hung test must not take the whole step
    return command, env


def plan(args, work: str) -> list:
    """The steps, most valuable first."""
    python = sys.executable
    workers = _workers(args.workers)
    pytest_gpu, env_gpu = _pytest(work, "gpu-tests", workers)
    pytest_rest, env_rest = _pytest(work, "suite-on-cupy", workers)
    ignored = ["--ignore", "tests/test_gpu_check.py", "--ignore", "tests/test_emulated_gpu.py"]  # rehearsals of this check
    steps = [
        Step("environment", [python, "-c", "OPTIONAL = " + repr(sorted({m for m in OPTIONAL.values() if m})) + ENVIRONMENT], 45),
        Step("gpu-tests", pytest_gpu + ["-m", "gpu", *args.tests], 150, env=env_gpu, junit="gpu-tests.xml", gpu_tests=True),
        Step("train-without-pooch", [python, "-c", WITHOUT_POOCH], 45),
        Step("suite-on-cupy", pytest_rest + ["-m", "not gpu", *ignored, *args.tests], 120, env=env_rest,
             junit="suite-on-cupy.xml"),
    ]

    def bench(name, script, extra, full_s, min_s, why_not=None):
        """A benchmark: ``--repeats`` when ``full_s`` seconds are left, one repeat down to ``min_s``;
        in a dry run, one repeat on a token of the data (or not run, for ``why_not``)."""
        json_path = ["--json", os.path.join(work, f"{name}.json")]
        if args.dry_run:
            token = ([python, "-c", TOKEN_BENCH_TRAIN] if script == "bench_train.py"
                     else [python, f"benchmarks/{script}", "--samples", "512"])
            return Step(name, token + json_path + extra + ["--repeats", "1"], full_s, required=False, why_not=why_not)
        base = [python, f"benchmarks/{script}", *json_path, *extra]
        return Step(name, base + ["--repeats", str(args.repeats)], full_s, required=False, min_s=min_s,
                    cut=((min_s, base + ["--repeats", "1"]),))

    # seconds needed (with --repeats 3, with one repeat): estimates for an H100, to be replaced by measurements
    steps += [
        bench("bench-mlp", "bench_train.py", ["--configs", "mlp"], 60, 25),
        bench("bench-convnet", "bench_convnet.py", [], 60, 25),
        bench("bench-small", "bench_train.py", ["--configs", "small"], 90, 35),
        bench("bench-wide", "bench_train.py", ["--configs", "wide"], 60, 25,
              why_not="its 2048-wide products take a minute on a loaded 2-core CPU even on the token data"),
        bench("bench-mixed", "bench_train.py", ["--mixed", "--configs", "mlp"], 60, 25,
              why_not="NumPy emulates float16 arithmetic slowly: over a minute even on the token data"),
        bench("bench-compiled", "bench_train.py", ["--torch-compile", "--configs", "small"], 90, 60,
              why_not="torch.compile compiles for minutes on a CPU, and means nothing without a GPU"),
    ]
    if args.only:
        unknown = set(args.only) - {s.name for s in steps}
        if unknown:
            raise SystemExit(f"unknown step(s) {sorted(unknown)}; the steps are {[s.name for s in steps]}")
        steps = [s for s in steps if s.name in args.only]
    return steps


def schedule(step: Step, left: float, dry_run: bool) -> tuple:
    """How ``step`` runs with ``left`` seconds to the deadline: ``(command, limit, note)``, or
    ``(None, 0, status)`` when it does not run. The limit is the step's own or the time left,
    whichever is shorter; a step that has a cut version runs that when only it fits."""
    if dry_run and step.why_not:
        return None, 0, f"skipped in a dry run ({step.why_not})"
    if left < max(step.min_s, 1):
        return None, 0, f"not run ({max(left, 0):.0f} s left of the deadline)"
    if left < step.limit_s:
        for needed, replacement in step.cut:
            if left >= needed:
                return replacement, left, f"cut to fit {left:.0f} s: {' '.join(replacement[-2:])}"
    return step.command, min(step.limit_s, left), None


def environment(args) -> dict:
    """The environment every step runs in: the checkout first on PYTHONPATH (nothing installed),
    the emulation of CuPy before it in a dry run, CuPy the default backend, no downloads."""
    env = dict(os.environ)
    path = [EMULATION, ROOT] if args.dry_run else [ROOT]
    env["PYTHONPATH"] = os.pathsep.join(path + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(GPUNET_BACKEND="cupy", GPUNET_OFFLINE="1", PYTHONUNBUFFERED="1", MPLBACKEND="Agg",
               GPUNET_CHECK_MODE="dry-run" if args.dry_run else "device")
    return env


# ---------------------------------------------------------------------------------------------
# running and reporting
# ---------------------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _stop(proc) -> None:
    """End the step's whole process group (pytest-xdist's workers, mpirun's ranks, the scripts a
    test started). First as Ctrl-C would, so that pytest still writes its junit XML and summary
    for the tests it ran; whatever of the group outlived the step goes too."""
    for sig, grace in ((signal.SIGINT, STOP_GRACE_S[0]), (signal.SIGTERM, STOP_GRACE_S[1]), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)


def run_step(step: Step, command: list, limit: float, env: dict, work: str) -> dict:
    log_path = os.path.join(work, f"{step.name}.log")
    start = time.monotonic()
    at = command.index("-c") + 1 if "-c" in command else None
    shown = command if at is None else command[:at] + ["<script>"] + command[at + 1:]
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(shown) + "\n")
        log.flush()
        proc = subprocess.Popen(command, cwd=ROOT, env={**env, **step.env}, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=limit)
            status = "passed" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            _stop(proc)
            status = f"failed (over its {limit:.0f} s limit)"
        except BaseException:
            _stop(proc)
            raise
        with contextlib.suppress(ProcessLookupError):  # nothing it started may hold the device for the next step
            os.killpg(proc.pid, signal.SIGKILL)
    result = {"step": step.name, "status": status, "seconds": round(time.monotonic() - start, 1), "limit_s": round(limit)}
    junit = os.path.join(work, step.junit) if step.junit else None
    tests = None
    if junit and os.path.exists(junit):
        try:
            tests = junit_results(junit)
        except ElementTree.ParseError as exc:  # pytest was killed while writing it
            result["status"] = f"{status}; its junit XML is unreadable ({exc})"[:120]
            if status == "passed":
                result["status"] = f"failed (its junit XML is unreadable: {exc})"[:120]
    if tests is not None:
        result["tests"] = tests["counts"]
        result["failed_tests"] = tests["failed"][:40]
        reasons = [_strip_location(r) for r in tests["skips"]]
        result["skips"] = {r: reasons.count(r) for r in sorted(set(reasons))}
        if step.gpu_tests:
            unexplained = unexplained_skips(set(reasons))
            result["unexplained_skips"] = unexplained
            if unexplained and status == "passed":
                count = sum(reasons.count(r) for r in unexplained)
                result["status"] = f"failed ({count} skipped: {unexplained[0][:80]})"
        if result["status"] == "passed" and tests["counts"]["passed"] == 0:
            result["status"] = "failed (no test ran)"
    with open(log_path, errors="replace") as log:
        text = log.read()
    result["tail"] = text[-2000:]
    if step.name == "environment":
        found = re.search(r"^ENVIRONMENT (\{.*\})$", text, re.M)
        result["environment"] = json.loads(found[1]) if found else None
    return result


def _write(path: str, data: bytes) -> None:
    """Replace ``path`` at once: a machine taken back mid-write leaves the previous version."""
    partial = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".partial")
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)


def summary(report: dict) -> str:
    env = next((s.get("environment") for s in report["steps"] if s.get("environment")), None) or {}
    lines = [f"gpu-check {report['mode']}: {report['verdict']} in {report['seconds']} s of a {report['deadline_s']} s deadline",
             f"device: {env.get('device') or env.get('cuda_error') or env.get('cupy_error', '?')}; nvidia-smi: "
             f"{env.get('nvidia_smi', '?')}; cupy {env.get('cupy', '-')}, torch {env.get('torch', '-')}, "
             f"python {env.get('python', '?')}; {report['workers']} pytest workers"]
    for s in report["steps"]:
        line = f"{s['step']:20s} {s['status'][:60]:60s} {s.get('seconds', 0):6.1f} s / {s.get('limit_s', 0):4} s"
        if "tests" in s:
            c = s["tests"]
            line += f"  {c['passed']} passed, {c['failures'] + c['errors']} failed, {c['skipped']} skipped"
        lines.append(line)
        lines += [f"    {name}" for name in s.get("failed_tests", [])[:10]]
        lines += [f"    unexplained skip: {r}" for r in s.get("unexplained_skips", [])[:5]]
        if s.get("note"):
            lines.append(f"    {s['note']}")
    return "\n".join(lines) + "\n"


def publish(report: dict, out: str, work: str) -> None:
    """Write the three result files: the report, its summary, and every log packed in one archive."""
    report["seconds"] = round(time.monotonic() - report["_start"], 1)
    running = [s["step"] for s in report["steps"] if s["status"] == "running"]
    failed = [s["step"] for s in report["steps"] if s["status"].startswith("failed")
              or (s["required"] and s["status"].startswith("not run"))]
    report["passed"] = not failed and not running
    report["verdict"] = ("FAILED: " + ", ".join(failed) if failed else "passed") + (
        f" (so far: {running[0]} running; no later report means it was stopped there)" if running else "")
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    _write(os.path.join(out, "gpu-check.json"), (json.dumps(public, indent=2) + "\n").encode())
    _write(os.path.join(out, "summary.txt"), summary(report).encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted(os.listdir(work)):
            tar.add(os.path.join(work, name), arcname=os.path.join("gpu-check-logs", name))
    _write(os.path.join(out, "logs.tar.gz"), buffer.getvalue())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder for the results (created if missing); three files are written there")
    parser.add_argument("--dry-run", action="store_true", help="rehearse on this machine's CPU with the CuPy emulation")
    parser.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE_S,
                        help=f"seconds for the whole check, steps included (default {DEFAULT_DEADLINE_S})")
    parser.add_argument("--workers", type=int, help="pytest-xdist workers for the test steps (default: up to 8 "
                        "where pytest-xdist is installed; 0 runs the tests in one process)")
    parser.add_argument("--repeats", type=int, default=3, help="benchmark repeats on the GPU when time allows (default 3)")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps")
    parser.add_argument("--tests", nargs="+", default=["tests"], metavar="PATH",
                        help="what the test steps collect (default: tests), e.g. the files that failed, for a second try")
    args = parser.parse_args(argv)
    start = time.monotonic()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gpu-check-")
    env = environment(args)
    steps = plan(args, work)
    report = {"_start": start, "mode": env["GPUNET_CHECK_MODE"], "deadline_s": args.deadline, "workers": _workers(args.workers),
              "python": sys.executable, "pythonpath": env["PYTHONPATH"], "steps": []}
    print(f"{report['mode']}: deadline {args.deadline:.0f} s, {report['workers']} pytest workers, "
          f"PYTHONPATH {env['PYTHONPATH']}; results in {out}", flush=True)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for step in steps:
            left = args.deadline - MARGIN_S - (time.monotonic() - start)
            command, limit, why = schedule(step, left, args.dry_run)
            entry = {"step": step.name, "required": step.required, "seconds": 0, "limit_s": round(limit),
                     "status": "running" if command else why}
            if command and why:
                entry["note"] = why
            report["steps"].append(entry)
            if command:
                publish(report, out, work)
                entry.update(run_step(step, command, limit, env, work))
            print(f"{step.name:20s} {entry['status'][:70]:70s} {entry['seconds']:7.1f} s", flush=True)
            publish(report, out, work)
    except Interrupted as exc:
        if report["steps"] and report["steps"][-1]["status"] == "running":
            report["steps"][-1]["status"] = f"failed (interrupted by {exc})"
        publish(report, out, work)
        print(f"interrupted by {exc}; the results so far are in {out}", flush=True)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{report['verdict']} in {report['seconds']} s; {', '.join(RESULT_FILES)} in {out}", flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
