"""Crafted model files: a hostile probe of the loaders of every format, and of the command line.

Each file is built here, with h5py and zipfile. One loader process imports gpunet once, then
forks a child per file: the child loads it under an address-space limit and reports the outcome
(loaded, or the exception's class and message), the seconds it took and the resident memory it
added at its peak (``ru_maxrss`` starts at the child's resident size when it is forked). A child
that has not answered in ``HANG_SECONDS`` is killed and reported as hanging. Every refusal must be
a clean ``ValueError``/``OSError``/``TypeError`` naming the file, within 5 s, costing under 300 MB.
"""

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet.datasets import write_idx
from gpunet.layers import Dense, Input, Layer
from gpunet.lookup import custom_object_scope
from gpunet.saving import model_from_config

SECRET = 1234.5  # the float32 values of the file a crafted model must never read
HANG_SECONDS = 15
MAX_SECONDS = 5
MAX_MEGABYTES = 300
HUGE_UNITS = 10**12  # 5 * 10**12 float32 weights: 20 TB, more than any machine's memory

RUNNER = textwrap.dedent(
    """
    import json, os, resource, signal, sys, time, traceback
    import numpy as np
    import h5py
    import gpunet
    from gpunet import cli
    from gpunet.layers import Dense, Input

    gpunet.backend.name()
    SECRET = np.float32(SECRET_VALUE)

    def peak_megabytes():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def run(case):
        kind, path = case["kind"], case["path"]
        if kind == "cli":
            with open(case["stderr"], "w") as err:
                os.dup2(err.fileno(), 2)
                os.dup2(err.fileno(), 1)
            try:
                code = cli.main(case["argv"])
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # what Python would print for an uncaught exception
                traceback.print_exc()
                code = 1
            sys.stderr.flush()
            return [], {"code": code}
        if kind == "load_model":
            return gpunet.load_model(path, **case.get("kwargs", {})).get_weights(), {}
        if kind == "load_weights":
            model = gpunet.Sequential([Input((5,)), Dense(8), Dense(3)])
            model.compile(optimizer="adam", loss="mse")
            model.load_weights(path)
            return model.get_weights(), {}
        if kind == "read_training_state":
            pending, arrays = [gpunet.saving.read_training_state(path)], []
            while pending:
                item = pending.pop()
                if isinstance(item, dict):
                    pending.extend(item.values())
                elif isinstance(item, np.ndarray):
                    arrays.append(item)
            return arrays, {}
        if kind == "model_from_json":
            with open(path) as f:
                return gpunet.model_from_json(f.read(), **case.get("kwargs", {})).get_weights(), {}
        raise AssertionError(kind)

    def child(case, write):
        for key, value in case.get("env", {}).items():
            os.environ[key] = value
        with open("/proc/self/status") as f:
            size = int(next(line for line in f if line.startswith("VmSize")).split()[1]) * 1024
        room = size + (3 << 30)  # a blow-up becomes a MemoryError, not the end of the machine
        resource.setrlimit(resource.RLIMIT_AS, (room, room))
        start, base = time.monotonic(), peak_megabytes()
        report = {}
        try:
            arrays, report = run(case)
            secret = any(np.any(np.asarray(a) == SECRET) for a in arrays)
            report.update(outcome="loaded", secret=bool(secret))
        except (ValueError, OSError, TypeError) as exc:
            report.update(outcome="refused", type=type(exc).__name__, message=str(exc)[:2000])
        except BaseException as exc:
            report.update(outcome="unclean", type=type(exc).__name__, message=str(exc)[:500])
        report.update(seconds=time.monotonic() - start, megabytes=peak_megabytes() - base)
        os.write(write, json.dumps(report).encode())

    results = {}
    for case in json.load(open(sys.argv[1])):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                child(case, write)
            finally:
                os._exit(0)
        os.close(write)
        deadline = time.monotonic() + HANG_SECONDS
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        with os.fdopen(read, "rb") as f:
            raw = f.read()
        results[case["name"]] = json.loads(raw) if raw else {"outcome": "hang or crash"}
    print(json.dumps(results))
    """
).replace("SECRET_VALUE", repr(SECRET)).replace("HANG_SECONDS", str(HANG_SECONDS))


# ----------------------------------------------------------------------------------------------
# building the files
# ----------------------------------------------------------------------------------------------
def _model():
    gpunet.utils.clear_session()  # layers named dense and dense_1, whatever ran before
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((5,)), Dense(8), Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 3)).astype(np.float32),
              epochs=1, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder with a good checkpoint in each format, a secret file and a FIFO."""
    folder = tmp_path_factory.mktemp("crafted")
    model = _model()
    model.save(folder / "good.h5")
    model.save(folder / "good.keras")
    model.save_weights(folder / "good.weights.h5")
    np.full((5, 8), SECRET, np.float32).tofile(folder / "secret.bin")
    with h5py.File(folder / "secret.h5", "w") as f:
        f["k"] = np.full((5, 8), SECRET, np.float32)
    os.mkfifo(folder / "fifo")
    return folder


def _copy(folder, source, name):
    (folder / name).write_bytes((folder / source).read_bytes())
    return str(folder / name)


def _h5(folder, name, change, source="good.h5"):
    """A copy of a good file, changed by ``change(f)`` with h5py."""
    path = _copy(folder, source, name)
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def _kernel(f):
    """The first Dense kernel's group and name in a legacy file."""
    group = f["model_weights/dense"]
    return group, group.attrs["weight_names"][0].decode()


def _replace_kernel(f, **create):
    group, name = _kernel(f)
    del group[name]
    if "layout" in create:
        group.create_virtual_dataset(name, create["layout"])
    elif "link" in create:
        group[name] = create["link"]
    else:
        group.create_dataset(name, shape=(5, 8), dtype="f4", **create)


def _virtual_layout(folder):
    layout = h5py.VirtualLayout(shape=(5, 8), dtype="f4")
    layout[:] = h5py.VirtualSource(str(folder / "secret.h5"), "k", shape=(5, 8))
    return layout


def _keras(folder, name, change=None, config=None, compression=zipfile.ZIP_STORED, weights=None):
    """A copy of the good ``.keras`` archive with its weights entry changed by ``change(f)`` (or
    replaced by ``weights``) and its config by ``config(dict)``."""
    with zipfile.ZipFile(folder / "good.keras") as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    if change is not None:
        buffer = io.BytesIO(entries["model.weights.h5"])
        with h5py.File(buffer, "r+") as f:
            change(f)
        entries["model.weights.h5"] = buffer.getvalue()
    if weights is not None:
        entries["model.weights.h5"] = weights
    if config is not None:
        content = json.loads(entries["config.json"])
        config(content)
        entries["config.json"] = json.dumps(content, separators=(",", ":")).encode()
    path = folder / name
    with zipfile.ZipFile(path, "w", compression) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return str(path)


def _config_file(folder, name, text):
    (folder / name).write_text(text)
    return str(folder / name)


def _sequential(units, inputs=5, **extra):
    return {"class_name": "Sequential", "config": {"name": "crafted", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, inputs]}},
        {"class_name": "Dense", "config": {"units": units}}]}, **extra}


def _functional(units, inputs=5):
    """A functional model's config (Keras 3's layout) whose Dense has ``units`` units."""
    return {"class_name": "Functional", "config": {
        "name": "crafted", "trainable": True,
        "layers": [
            {"class_name": "InputLayer", "name": "x", "config": {"batch_shape": [None, inputs], "name": "x"},
             "inbound_nodes": []},
            {"class_name": "Dense", "name": "d", "config": {"units": units, "name": "d"},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, inputs], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}


def _with_config(config):
    def change(f):
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
    return change


def _deep(levels):
    return "[" * levels + "]" * levels


def _unwritten(path):
    """``change`` that replaces the dataset at ``path`` by one declaring 2 GiB and storing nothing."""
    def change(f):
        if path in f:
            del f[path]
        f.create_dataset(path, shape=(2**29,), dtype="f4")
    return change


def _cycle(path):
    def change(f):
        f[path] = f[path.rsplit("/", 2)[0]]
    return change


# ----------------------------------------------------------------------------------------------
# running them
# ----------------------------------------------------------------------------------------------
def _run(folder, cases):
    listing = folder / f"cases-{cases[0]['name']}.json"
    listing.write_text(json.dumps(cases))
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}
    env.pop("GPUNET_LOAD_LIMIT", None)
    result = subprocess.run([sys.executable, "-c", RUNNER, str(listing)], capture_output=True, text=True, env=env,
                            timeout=60 + len(cases) * (HANG_SECONDS + 5))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def _check_refusals(results, cases):
    """Every case refused cleanly, naming its file and its problem, in time and memory; a list of
    what went wrong, all cases at once."""
    problems = []
    for case in cases:
        got = results[case["name"]]
        where = os.path.basename(case["path"])
        if got["outcome"] != "refused":
            problems.append(f"{case['name']}: {got}")
        elif where not in got["message"] or case["says"] not in got["message"]:
            problems.append(f"{case['name']}: message lacks {where!r} or {case['says']!r}: {got['message']}")
        elif got["seconds"] > MAX_SECONDS or got["megabytes"] > MAX_MEGABYTES:
            problems.append(f"{case['name']}: {got['seconds']:.1f} s, {got['megabytes']:.0f} MB before refusing")
    return problems


def _control(folder):
    return [{"name": "control-h5", "kind": "load_model", "path": str(folder / "good.h5")},
            {"name": "control-keras", "kind": "load_model", "path": str(folder / "good.keras")},
            {"name": "control-weights", "kind": "load_weights", "path": str(folder / "good.weights.h5")}]


def _check_controls(results):
    """The good files still load, quickly and cheaply (so the harness can see a success)."""
    for name in ("control-h5", "control-keras", "control-weights"):
        got = results[name]
        assert got["outcome"] == "loaded" and not got["secret"], (name, got)
        assert got["seconds"] < MAX_SECONDS and got["megabytes"] < MAX_MEGABYTES, (name, got)


def _case(name, kind, path, says, **extra):
    return {"name": name, "kind": kind, "path": path, "says": says, **extra}


# ----------------------------------------------------------------------------------------------
# 1. a model file never makes gpunet read another file
# ----------------------------------------------------------------------------------------------
def test_a_crafted_file_never_reads_another_file(files):
    secret = str(files / "secret.bin")
    elsewhere = str(files / "secret.h5")
    state_slot = "gpunet/state/optimizer/slots/dense%2Fkernel/m"

    def external_slot(f):
        del f[state_slot]
        f.create_dataset(state_slot, shape=(5, 8), dtype="f4", external=[(secret, 0, 160)])

    def unused_link(f):
        f["gpunet/junk"] = h5py.ExternalLink(elsewhere, "/")

    def named_by_an_attribute(f):
        f["outside"] = h5py.ExternalLink(elsewhere, "/")
        group, _ = _kernel(f)
        group.attrs["weight_names"] = np.array([b"/outside/k", group.attrs["weight_names"][1]])

    def reference_attribute(f):
        f["model_weights"].attrs["pointer"] = f["model_weights/dense"].ref

    def keras_external(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(5, 8), dtype="f4", external=[(secret, 0, 160)])

    def keras_virtual(f):
        del f["layers/dense/vars/0"]
        f.create_virtual_dataset("layers/dense/vars/0", _virtual_layout(files))

    external, link = "keeps its data in an external file", "is a ExternalLink"
    cases = [
        _case("h5-external-kernel", "load_model",
              _h5(files, "ext.h5", lambda f: _replace_kernel(f, external=[(secret, 0, 160)])), external),
        _case("h5-external-kernel-weights", "load_weights", str(files / "ext.h5"), external),
        _case("h5-external-link", "load_model",
              _h5(files, "link.h5", lambda f: _replace_kernel(f, link=h5py.ExternalLink(elsewhere, "k"))), link),
        _case("h5-virtual", "load_model",
              _h5(files, "vds.h5", lambda f: _replace_kernel(f, layout=_virtual_layout(files))), "virtual dataset"),
        _case("h5-external-state", "load_model", _h5(files, "state.h5", external_slot), external),
        _case("h5-external-state-read", "read_training_state", str(files / "state.h5"), external),
        _case("h5-unused-external-link", "load_model", _h5(files, "unused.h5", unused_link), link),
        _case("h5-attribute-names-another-file", "load_model", _h5(files, "named.h5", named_by_an_attribute), link),
        _case("h5-reference-attribute", "load_model", _h5(files, "ref.h5", reference_attribute),
              "references to other objects"),
        _case("keras-external", "load_model", _keras(files, "ext.keras", keras_external), external),
        _case("weights-virtual", "load_weights", _h5(files, "vds.weights.h5", keras_virtual, "good.weights.h5"),
              "virtual dataset"),
    ]
    results = _run(files, cases + _control(files))
    _check_controls(results)
    assert not [n for n, r in results.items() if r.get("secret")], results
    assert not _check_refusals(results, cases)


# ----------------------------------------------------------------------------------------------
# 2. a model file never blocks the reader
# ----------------------------------------------------------------------------------------------
def test_a_crafted_file_never_blocks(files):
    fifo = str(files / "fifo")

    def many_groups(f):
        junk = f.create_group("gpunet/junk")
        for i in range(5000):
            junk.create_group(str(i))

    def many_chunks(f):
        f.create_dataset("gpunet/junk", data=np.zeros(5000, np.float32), chunks=(1,))  # 20 KB in 5,000 chunks

    def two_names(f):
        f["gpunet/again"] = f["model_weights"]

    os.mkfifo(files / "pipe.keras")
    external, cycle = "keeps its data in an external file", "cycle"
    cases = [
        _case("h5-kernel-in-a-fifo", "load_model",
              _h5(files, "fifo.h5", lambda f: _replace_kernel(f, external=[(fifo, 0, 160)])), external),
        _case("h5-kernel-in-a-fifo-weights", "load_weights", str(files / "fifo.h5"), external),
        _case("h5-link-to-a-fifo", "load_model",
              _h5(files, "fifolink.h5", lambda f: _replace_kernel(f, link=h5py.ExternalLink(fifo, "/k"))),
              "is a ExternalLink"),
        _case("weights-cycle", "load_weights",
              _h5(files, "cycle.weights.h5", _cycle("layers/dense/vars/loop"), "good.weights.h5"), cycle),
        _case("keras-cycle", "load_model", _keras(files, "cycle.keras", _cycle("layers/dense/vars/loop")), cycle),
        _case("h5-state-cycle", "load_model", _h5(files, "cycle.h5", _cycle("gpunet/state/fit/loop")), cycle),
        _case("keras-path-is-a-fifo", "load_model", str(files / "pipe.keras"), "named pipe"),
        _case("h5-many-objects", "load_model", _h5(files, "many.h5", many_groups), "objects and attributes"),
        _case("h5-many-chunks", "load_model", _h5(files, "chunks.h5", many_chunks), "5000 chunks"),
        _case("h5-two-names", "load_model", _h5(files, "twice.h5", two_names), "is the object already linked as"),
    ]
    results = _run(files, cases + _control(files))
    _check_controls(results)
    assert not _check_refusals(results, cases)


# ----------------------------------------------------------------------------------------------
# 3. a model file never costs memory before it is refused
# ----------------------------------------------------------------------------------------------
def _padded_weights(folder, megabytes):
    """A good weights file followed by ``megabytes`` of bytes that deflate about 14 to 1 (inside
    the zip-bomb limits)."""
    rng = np.random.default_rng(0)
    block = np.zeros(1 << 20, np.uint8)
    block[rng.integers(0, 1 << 20, 20000)] = rng.integers(1, 256, 20000)
    with zipfile.ZipFile(folder / "good.keras") as archive:
        good = archive.read("model.weights.h5")
    return good + np.tile(block, megabytes).tobytes()


def test_a_crafted_file_costs_no_memory_before_its_refusal(files):
    def junk_config(config):
        config["config"]["junk"] = [{}] * (5 << 20)  # 15 MiB of "{}," that parse to 400 MB

    def huge_layer(config):
        config["config"]["layers"][1]["config"]["units"] = HUGE_UNITS

    big = _sequential(100_000)  # 600,000 weights (2.4 MB): within half of any memory, not within 1M
    limit, declared = "GPUNET_LOAD_LIMIT", "datasets declare 2.0 GiB"
    slot = "gpunet/state/optimizer/slots/dense%2Fkernel/m"
    cases = [
        _case("h5-unwritten-state", "load_model", _h5(files, "bomb.h5", _unwritten("gpunet/state/junk")), declared),
        _case("h5-unwritten-slot", "load_model", _h5(files, "slot.h5", _unwritten(slot)), declared),
        _case("keras-unwritten-state", "load_model", _keras(files, "bomb.keras", _unwritten("gpunet/state/junk")),
              declared),
        _case("weights-unwritten-variable", "load_weights",
              _h5(files, "bomb.weights.h5", _unwritten("optimizer/vars/2"), "good.weights.h5"), declared),
        _case("keras-json-of-empty-objects", "load_model",
              _keras(files, "junk.keras", config=junk_config, compression=zipfile.ZIP_DEFLATED),
              "bytes, more than the 4194304"),
        _case("keras-large-weights-entry", "load_model",
              _keras(files, "large.keras", weights=_padded_weights(files, 200), compression=zipfile.ZIP_DEFLATED),
              "more than a file for this model can hold"),
        _case("h5-huge-layer", "load_model", _h5(files, "huge.h5", _with_config(_sequential(HUGE_UNITS))), limit),
        _case("keras-huge-layer", "load_model", _keras(files, "huge.keras", config=huge_layer), limit),
        _case("h5-limit-from-the-environment", "load_model", _h5(files, "big.h5", _with_config(big)), limit,
              env={"GPUNET_LOAD_LIMIT": "1M"}),
        _case("h5-limit-as-an-argument", "load_model", str(files / "big.h5"), "load_limit",
              kwargs={"load_limit": "1M"}),
    ]
    texts = [  # JSON text has no file name: the message names "model JSON"
        _case("json-huge-layer", "model_from_json",
              _config_file(files, "huge.json", json.dumps(_sequential(HUGE_UNITS))), limit),
        _case("json-huge-functional-layer", "model_from_json",
              _config_file(files, "huge-functional.json", json.dumps(_functional(HUGE_UNITS))), limit),
        _case("json-deep", "model_from_json", _config_file(files, "deep.json", _deep(100_000)),
              "nested more than 100 levels"),
    ]
    results = _run(files, cases + texts + _control(files))
    _check_controls(results)
    for case in texts:
        got = results[case["name"]]
        assert got["outcome"] == "refused" and case["says"] in got["message"], (case["name"], got)
        assert got["seconds"] < MAX_SECONDS and got["megabytes"] < MAX_MEGABYTES, (case["name"], got)
    assert not _check_refusals(results, cases)


# ----------------------------------------------------------------------------------------------
# 11. the command line answers hostile files in one line
# ----------------------------------------------------------------------------------------------
def test_the_command_line_answers_hostile_files_in_one_line(files):
    data = files / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)).astype(np.uint8))
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    os.symlink("/dev/zero", files / "zero.json")
    training = {"loss": "sparse_categorical_crossentropy", "epochs": 1, "dev_size": 10**30}
    huge_dev = _config_file(files, "dev.json", json.dumps({**_sequential(10, inputs=784), "training_config": training}))
    huge_json = _config_file(files, "huge-cli.json", json.dumps(_sequential(HUGE_UNITS)))
    os.mkfifo(files / "cli-pipe.keras")
    commands = [
        ("summary-dev-zero", ["summary", str(files / "zero.json")], "regular file"),
        ("train-dev-zero", ["train", str(files / "zero.json")], "regular file"),
        ("summary-deep-json", ["summary", _config_file(files, "deep-cli.json", _deep(100_000))], "nested more than"),
        ("summary-huge-layer", ["summary", huge_json], "GPUNET_LOAD_LIMIT"),
        ("train-huge-dev-size", ["train", huge_dev, "--data", str(data), "--dataset", "mnist"], "dev_size"),
        ("summary-fifo", ["summary", str(files / "cli-pipe.keras")], "named pipe"),
        ("summary-huge-h5", ["summary", _h5(files, "huge-cli.h5", _with_config(_sequential(HUGE_UNITS)))],
         "GPUNET_LOAD_LIMIT"),
        ("evaluate-cycle", ["evaluate", _keras(files, "cycle-cli.keras", _cycle("layers/dense/vars/loop"))], "cycle"),
    ]
    cases = [_case(name, "cli", argv[1], says, argv=argv, stderr=str(files / f"{name}.err"))
             for name, argv, says in commands]
    results = _run(files, cases)
    problems = []
    for case in cases:
        got = results[case["name"]]
        with open(case["stderr"]) as f:
            text = f.read()
        lines = [line for line in text.splitlines() if line.strip()] or [""]
        usage = all(line.startswith(("usage:", " ")) for line in lines[:-1])
        if got["outcome"] != "loaded" or got["code"] not in (1, 2) or "Traceback" in text or not usage:
            problems.append(f"{case['name']}: {got} {text[-600:]}")
        elif not all(part in lines[-1] for part in (os.path.basename(case["path"]), case["says"], "error")):
            problems.append(f"{case['name']}: last line {lines[-1]!r}")
        elif got["seconds"] > MAX_SECONDS or got["megabytes"] > MAX_MEGABYTES:
            problems.append(f"{case['name']}: {got['seconds']:.1f} s, {got['megabytes']:.0f} MB")
    assert not problems, problems


# ----------------------------------------------------------------------------------------------
# the budget's parts, against independent references
# ----------------------------------------------------------------------------------------------
class _Scale(Layer):
    """A user layer: one weight per feature, created in ``build``."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1], 3), initializer="ones", name="scale")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def call(self, x, training=False):
        return x @ self.scale


def test_a_config_is_counted_without_building_it_as_the_model_builds_it():
    from gpunet.saving import budget  # noqa: PLC0415 - new with the budget; the other tests run without it

    folder = os.path.join(os.path.dirname(__file__), "..", "..", "models")
    specs = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                specs.append(json.load(f))
    user = _sequential(7)
    user["config"]["layers"].append({"class_name": "_Scale", "config": {}})
    user["config"]["layers"].append({"class_name": "Dense", "config": {"units": 2, "dtype": "float64"}})
    assert len(specs) > 5
    with custom_object_scope({"_Scale": _Scale}):
        for spec in [*specs, user]:
            counted = budget.config_weight_bytes(spec)
            model = model_from_config(spec)  # the reference: the weights really allocated
            assert counted == sum(p.data.nbytes for p in model.weights) > 0, spec["config"].get("name")
    with pytest.raises(ValueError, match=r"the weights up to layer 1 \(Dense\) take 3\.8 MiB, more than the 1\.0 MiB"):
        budget.config_weight_bytes(_sequential(100_000, inputs=9), limit=1 << 20, where="crafted")


def test_the_load_limit_is_half_the_available_memory_unless_set(monkeypatch):
    from gpunet.saving import budget  # noqa: PLC0415

    monkeypatch.delenv("GPUNET_LOAD_LIMIT", raising=False)
    monkeypatch.setenv("GPUNET_MEMORY_LIMIT", "6G")  # what the backend says the host can hold
    assert budget.load_limit() == 3 << 30
    monkeypatch.setenv("GPUNET_LOAD_LIMIT", "512MiB")
    assert budget.load_limit() == 512 << 20
    assert budget.load_limit("2K") == 2048 and budget.load_limit(10**9) == 10**9
    monkeypatch.setenv("GPUNET_LOAD_LIMIT", "off")
    assert budget.load_limit() is None
    monkeypatch.setenv("GPUNET_LOAD_LIMIT", "lots")
    with pytest.raises(ValueError, match="GPUNET_LOAD_LIMIT must be a size"):
        budget.load_limit()
    with pytest.raises(ValueError, match="load_limit must be a size"):
        budget.load_limit("-1")
