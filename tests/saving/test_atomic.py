"""Atomic saving: killed writers, full disks and unwritable folders never cost the last checkpoint."""

import errno
import os
import queue
import random
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential
from gpunet.layers import Dense, Input
from gpunet.saving import atomic

TRAINER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import gpunet
    from gpunet.callbacks import ModelCheckpoint
    from gpunet.layers import Dense, Input

    path, marker = sys.argv[1], sys.argv[2]
    gpunet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 64)).astype("float32")
    y = rng.integers(0, 10, 256)
    model = gpunet.Sequential([Input((64,)), Dense(256, activation="relu"), Dense(256, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    open(marker, "w").close()
    model.fit(x, y, batch_size=32, epochs=100000, verbose=0, callbacks=[ModelCheckpoint(path, save_freq=1)])
    """
)


def _temps(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(atomic.TEMP_SUFFIX))


def _writer_pid(temp_name):
    """The writer's pid, which a temporary file's name carries: .NAME.HASH.HOST.PID.RANDOM.gpunet-tmp"""
    return int(os.path.basename(temp_name)[: -len(atomic.TEMP_SUFFIX)].split(".")[-2])


def _age(path, seconds=3600):
    old = time.time() - seconds
    os.utime(path, (old, old))


ENV = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}


def _kill_during_saves(tmp_path, kills):
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    path = str(tmp_path / "ck.h5")
    rng = random.Random(1234)
    interrupted_saves, killed = 0, []
    for i in range(kills):
        marker = tmp_path / f"started-{i}"
        proc = subprocess.Popen([sys.executable, str(script), path, str(marker)], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not (marker.exists() and os.path.exists(path)):
                if proc.poll() is not None:
                    raise AssertionError(f"trainer exited early: {proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    raise AssertionError("trainer did not start saving within 60 s")
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed.append(proc.pid)
        temps = _temps(str(tmp_path))
        mine = [t for t in temps if _writer_pid(t) == proc.pid]
        interrupted_saves += bool(mine)
        assert len(mine) <= 1, f"one writer left several temporary files: {mine}"
        assert all(_writer_pid(t) in killed for t in temps), f"a temporary file of no killed writer: {temps}"
        model = gpunet.load_model(path)  # the last complete checkpoint always loads
        assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    # what killed writers left is removed by the next save once it is 10 minutes old
    for name in _temps(str(tmp_path)):
        _age(tmp_path / name)
    gpunet.load_model(path).save(path)
    assert _temps(str(tmp_path)) == []
    return interrupted_saves


def test_checkpoint_survives_sigkill_during_saves(tmp_path):
    _kill_during_saves(tmp_path, kills=6)


@pytest.mark.slow
def test_checkpoint_survives_many_sigkills(tmp_path):
    interrupted = _kill_during_saves(tmp_path, kills=25)
    assert interrupted >= 1, "no kill landed during a save: the test did not exercise what it should"


def _saved_model(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    path = tmp_path / "ck.h5"
    model.save(path)
    return model, path, path.read_bytes()


def test_disk_full_during_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, path, before = _saved_model(tmp_path)
    model.set_weights([w + 1 for w in model.get_weights()])
    original = h5py.File.create_dataset if hasattr(h5py.File, "create_dataset") else None

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py.Group, "create_dataset", no_space)
    with pytest.raises(OSError, match=r"cannot save .*ck\.h5.*No space left on device") as info:
        model.save(path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert original is None or original
    assert path.read_bytes() == before
    assert _temps(str(tmp_path)) == []
    assert atomic.TEMP_SUFFIX not in str(info.value)
    gpunet.load_model(path)


def test_disk_full_at_the_final_flush_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, path, before = _saved_model(tmp_path)

    def fsync_fails(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="ck.h5"):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _temps(str(tmp_path)) == []


def test_unwritable_folder_is_an_oserror_naming_the_path(tmp_path, monkeypatch):
    model, path, before = _saved_model(tmp_path)
    real_open = os.open

    def denied(file, flags, *args, **kwargs):
        if flags & os.O_CREAT:  # the folder refuses new files although its mode allows them (e.g. an ACL)
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", denied)
    with pytest.raises(PermissionError, match=r"cannot save .*ck\.h5.*Permission denied") as info:
        model.save(path)
    monkeypatch.undo()
    assert atomic.TEMP_SUFFIX not in str(info.value)
    assert path.read_bytes() == before


def test_read_only_folder_for_real_even_as_root(tmp_path):
    model, path, before = _saved_model(tmp_path)
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(PermissionError, match=r"ck\.h5.*folder .* is not writable"):
            model.save(path)
        with pytest.raises(PermissionError, match=r"new\.h5.*folder .* is not writable"):
            model.save(tmp_path / "new.h5")
    finally:
        os.chmod(tmp_path, 0o755)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ck.h5"]


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Sequential([Input((3,)), Dense(2)]).save(tmp_path / "nope" / "ck.h5")


# ----------------------------------------------------------------------------------------------
# 1. concurrent writers: nobody removes a file another writer is still writing
# ----------------------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import gpunet
    path, value, go, saves = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    model = gpunet.Sequential([gpunet.layers.Input((3,)), gpunet.layers.Dense(2)])
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])
    while not os.path.exists(go):
        time.sleep(0.001)
    for _ in range(saves):
        model.save(path)
    """
)


def test_concurrent_saves_to_one_path_all_succeed_and_leave_one_complete_file(tmp_path):
    script, go, path = tmp_path / "writer.py", tmp_path / "go", tmp_path / "ck.h5"
    script.write_text(WRITER)
    writers = [subprocess.Popen([sys.executable, str(script), str(path), str(i + 1), str(go), "30"], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(4)]
    go.touch()  # all four start saving together
    failures = []
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            failures.append(err[-800:])
    assert not failures, "a concurrent save failed:\n" + "\n".join(failures)
    weights = gpunet.load_model(path).get_weights()
    values = np.unique(np.concatenate([w.ravel() for w in weights]))
    assert len(values) == 1 and values[0] in (1, 2, 3, 4), "the file mixes writers or is nobody's"
    assert _temps(str(tmp_path)) == []


LIVE_WRITER = textwrap.dedent(
    """
    import sys
    import h5py
    from gpunet.saving.atomic import atomic_write
    with atomic_write(sys.argv[1]) as temp:
        with h5py.File(temp, "w") as f:
            f["writer"] = 7
        print(temp, flush=True)
        sys.stdin.readline()  # a slow writer, still busy
    """
)


def test_a_live_writers_temporary_file_is_never_removed_however_old(tmp_path):
    model, path, _ = _saved_model(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(path)], env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        temp = proc.stdout.readline().strip()
        assert temp, proc.stderr.read()
        assert _writer_pid(temp) == proc.pid, "the temporary file does not name its writer's pid"
        _age(temp)  # old, but its writer is alive
        for _ in range(3):
            model.save(path)
        assert os.path.exists(temp), "a save removed another process's file in progress"
    finally:
        _, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0, err
    with h5py.File(path, "r") as f:  # the last writer won
        assert f["writer"][()] == 7
    assert _temps(str(tmp_path)) == []


DEAD_WRITER = textwrap.dedent(
    """
    import os, sys
    from gpunet.saving.atomic import atomic_write
    with atomic_write(sys.argv[1]) as first, atomic_write(sys.argv[2]) as second:
        for temp in (first, second):
            with open(temp, "wb") as f:
                f.write(b"half a file")
        print(first, second, flush=True)
        os._exit(0)  # killed mid-save: both temporary files stay behind
    """
)


def test_abandoned_temporary_files_are_removed_only_when_old_and_only_for_their_own_target(tmp_path):
    model, path, _ = _saved_model(tmp_path)
    backup = tmp_path / "ck.h5.bak"
    proc = subprocess.run([sys.executable, "-c", DEAD_WRITER, str(path), str(backup)], env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ours, theirs = proc.stdout.split()
    unknown = tmp_path / (".ck.h5.abc123" + atomic.TEMP_SUFFIX)  # no pid in its name: nobody can tell
    unknown.write_bytes(b"?")
    _age(unknown)
    model.save(path)
    assert os.path.exists(ours) and os.path.exists(theirs), "a recent temporary file was removed"
    _age(ours)
    _age(theirs)
    model.save(path)
    assert not os.path.exists(ours), "an abandoned temporary file of this target was kept"
    assert os.path.exists(theirs), "saving ck.h5 removed ck.h5.bak's temporary file"
    model.save(backup)
    assert not os.path.exists(theirs)
    assert unknown.exists()


# ----------------------------------------------------------------------------------------------
# 2. what is at the path: links are followed, anything but a writable regular file is refused
# ----------------------------------------------------------------------------------------------
def test_saving_through_a_symlink_updates_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    model, target, _ = _saved_model(tmp_path / "real")
    link = tmp_path / "links" / "latest.h5"
    link.symlink_to(os.path.join("..", "real", "ck.h5"))
    model.set_weights([w + 1 for w in model.get_weights()])
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "real", "ck.h5")
    for got, want in zip(gpunet.load_model(target).get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert _temps(str(tmp_path / "real")) == [] and _temps(str(tmp_path / "links")) == []


def test_the_temporary_file_lies_in_the_link_targets_folder(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    (tmp_path / "real" / "ck.h5").write_bytes(b"old")
    link = tmp_path / "links" / "latest.h5"
    link.symlink_to(tmp_path / "real" / "ck.h5")
    with atomic.atomic_write(link) as temp:
        assert os.path.dirname(temp) == os.path.realpath(tmp_path / "real")  # so os.replace stays in one file system
        with open(temp, "wb") as f:
            f.write(b"new")
    assert (tmp_path / "real" / "ck.h5").read_bytes() == b"new" and link.is_symlink()


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.h5"
    link.symlink_to("ck-new.h5")
    Sequential([Input((3,)), Dense(2)]).save(link)
    assert link.is_symlink() and (tmp_path / "ck-new.h5").is_file()
    gpunet.load_model(link)
    nowhere = tmp_path / "nowhere.h5"
    nowhere.symlink_to(tmp_path / "missing" / "ck.h5")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.h5.*does not exist"):
        Sequential([Input((3,)), Dense(2)]).save(nowhere)
    assert nowhere.is_symlink()


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a.h5").symlink_to("b.h5")
    (tmp_path / "b.h5").symlink_to("a.h5")
    with pytest.raises(OSError, match=r"a\.h5") as info:
        Sequential([Input((3,)), Dense(2)]).save(tmp_path / "a.h5")
    assert info.value.errno == errno.ELOOP and (tmp_path / "a.h5").is_symlink()


def _fifo(tmp_path):
    path = tmp_path / "pipe.h5"
    os.mkfifo(path)
    return path


def _socket(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative name: AF_UNIX paths are limited to ~100 bytes
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.h5")
    sock.close()
    return tmp_path / "sock.h5"


def _device(tmp_path):
    link = tmp_path / "null.h5"  # through a link, so that a wrong answer replaces the link, not /dev/null
    link.symlink_to(os.devnull)
    return link


def _read_only_file(tmp_path):
    path = tmp_path / "ro.h5"
    Sequential([Input((3,)), Dense(2)]).save(path)
    os.chmod(path, 0o444)
    return path


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "folder"])
def test_targets_that_are_not_regular_files_are_refused(tmp_path, monkeypatch, kind):
    path = {"fifo": lambda: _fifo(tmp_path), "socket": lambda: _socket(tmp_path, monkeypatch),
            "device": lambda: _device(tmp_path), "folder": lambda: tmp_path}[kind]()
    before = os.lstat(path)
    expected = IsADirectoryError if kind == "folder" else ValueError
    with pytest.raises(expected, match="not a regular file|is a folder") as info:
        Sequential([Input((3,)), Dense(2)]).save(path)
    assert repr(str(path)) in str(info.value) and atomic.TEMP_SUFFIX not in str(info.value)
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode), "the target was replaced"
    assert _temps(str(tmp_path)) == []


def test_a_read_only_file_is_refused_even_as_root(tmp_path):
    path = _read_only_file(tmp_path)
    before = path.read_bytes()
    with pytest.raises(PermissionError, match=r"ro\.h5.*read-only"):
        Sequential([Input((3,)), Dense(2)]).save(path)
    assert path.read_bytes() == before and stat.S_IMODE(os.stat(path).st_mode) == 0o444


# ----------------------------------------------------------------------------------------------
# 3. names: any legal name saves; every error names the user's path, never the temporary file
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [235, 255])
def test_long_legal_file_names_save(tmp_path, length):
    path = tmp_path / ("a" * (length - 3) + ".h5")
    Sequential([Input((3,)), Dense(2)]).save(path)
    gpunet.load_model(path)
    assert _temps(str(tmp_path)) == []


def _bad_target(tmp_path, monkeypatch, case):
    if case == "empty":
        monkeypatch.chdir(tmp_path)
        return "", ValueError
    if case == "folder":
        (tmp_path / "d.h5").mkdir()
        return str(tmp_path / "d.h5"), IsADirectoryError
    if case == "missing folder":
        return str(tmp_path / "nope" / "ck.h5"), FileNotFoundError
    if case == "fifo":
        return str(_fifo(tmp_path)), ValueError
    if case == "read-only folder":
        (tmp_path / "ro").mkdir(mode=0o555)
        return str(tmp_path / "ro" / "ck.h5"), PermissionError
    if case == "read-only file":
        return str(_read_only_file(tmp_path)), PermissionError
    raise AssertionError(case)


BAD_TARGETS = ["empty", "folder", "missing folder", "fifo", "read-only folder", "read-only file"]


@pytest.mark.parametrize("case", BAD_TARGETS)
def test_errors_name_the_users_path_never_the_temporary_file(tmp_path, monkeypatch, case):
    path, expected = _bad_target(tmp_path, monkeypatch, case)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(expected) as info:
        Sequential([Input((3,)), Dense(2)]).save(path)
    message = str(info.value)
    assert repr(path) in message, message
    assert atomic.TEMP_SUFFIX not in message and ".gpunet" not in message, message
    assert sorted(os.listdir(tmp_path)) == before


def test_an_error_while_writing_names_the_users_path(tmp_path):
    path = tmp_path / "ck.h5"
    with pytest.raises(OSError, match=r"cannot save .*ck\.h5.*Input/output error") as info:
        with atomic.atomic_write(path) as temp:
            raise OSError(errno.EIO, f"Input/output error writing {temp}")
    assert info.value.errno == errno.EIO
    assert atomic.TEMP_SUFFIX not in str(info.value) and _temps(str(tmp_path)) == []


# ----------------------------------------------------------------------------------------------
# 4. permissions: a new file gets 0666 & ~umask, a replaced file keeps its mode
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def set_umask():
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, set_umask, umask, mode):
    set_umask(umask)
    Sequential([Input((3,)), Dense(2)]).save(tmp_path / "ck.h5")
    assert oct(stat.S_IMODE(os.stat(tmp_path / "ck.h5").st_mode)) == oct(mode)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o640), (0o077, 0o664), (0o022, 0o600)])
def test_replacing_a_file_keeps_its_mode(tmp_path, set_umask, umask, mode):
    set_umask(umask)
    path = tmp_path / "ck.h5"
    path.write_bytes(b"old")
    os.chmod(path, mode)
    Sequential([Input((3,)), Dense(2)]).save(path)
    assert oct(stat.S_IMODE(os.stat(path).st_mode)) == oct(mode)
    gpunet.load_model(path)


# ----------------------------------------------------------------------------------------------
# 5. Ctrl-C: a save always finishes (or rolls back), then the run stops
# ----------------------------------------------------------------------------------------------
def test_ctrl_c_inside_a_save_lets_it_finish_then_stops(tmp_path):
    path = tmp_path / "ck.h5"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_write(path) as temp:
            signal.raise_signal(signal.SIGINT)
            with open(temp, "wb") as f:
                f.write(b"new")
    assert path.read_bytes() == b"new" and _temps(str(tmp_path)) == []


SAVER = textwrap.dedent(
    """
    import os, sys
    import gpunet
    path, rounds = sys.argv[1], int(sys.argv[2])
    folder = os.path.dirname(path)
    model = gpunet.Sequential([gpunet.layers.Input((3,)), gpunet.layers.Dense(2)])
    for k in range(rounds):
        try:
            print("ready", flush=True)
            while True:
                model.save(path)
        except KeyboardInterrupt:
            gpunet.load_model(path)  # complete and loadable
            temps = [n for n in os.listdir(folder) if n.endswith(".gpunet-tmp")]
            print("interrupted" if not temps else f"temporary files left: {temps}", flush=True)
    print("ready", flush=True)
    while True:  # the last Ctrl-C is not caught: it must end the process
        model.save(path)
    """
)


def _interrupt_saves(tmp_path, rounds):
    path = tmp_path / "ck.h5"
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(rounds)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in proc.stdout], daemon=True).start()
    rng = random.Random(5)
    try:
        for k in range(rounds + 1):
            assert lines.get(timeout=60) == "ready"
            time.sleep(rng.uniform(0.002, 0.03))  # the saver is somewhere inside a save
            proc.send_signal(signal.SIGINT)
            if k < rounds:
                try:
                    answer = lines.get(timeout=10)
                except queue.Empty:
                    raise AssertionError(f"Ctrl-C number {k + 1} was swallowed: the saver carried on") from None
                assert answer == "interrupted", answer
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == -signal.SIGINT, err  # ended by KeyboardInterrupt
    assert "KeyboardInterrupt" in err, err
    with h5py.File(path, "r") as f:
        assert "model_weights" in f
    gpunet.load_model(path)
    assert _temps(str(tmp_path)) == []


def test_ctrl_c_during_saves_always_stops_the_run_and_keeps_a_complete_file(tmp_path):
    _interrupt_saves(tmp_path, rounds=80)


@pytest.mark.slow
def test_many_ctrl_c_during_saves(tmp_path):
    _interrupt_saves(tmp_path, rounds=400)


# ----------------------------------------------------------------------------------------------
# 6. check_target: what fit calls before training, so a bad path fails before the first save
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", BAD_TARGETS)
def test_check_target_refuses_what_a_save_refuses_with_the_same_error(tmp_path, monkeypatch, case):
    path, expected = _bad_target(tmp_path, monkeypatch, case)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(expected) as checked:
        atomic.check_target(path)
    with pytest.raises(expected) as saved:
        Sequential([Input((3,)), Dense(2)]).save(path)
    assert str(checked.value) == str(saved.value)
    assert sorted(os.listdir(tmp_path)) == before


def test_check_target_returns_the_real_path_and_creates_nothing(tmp_path):
    (tmp_path / "real").mkdir()
    link = tmp_path / "latest.h5"
    link.symlink_to(os.path.join("real", "ck.h5"))  # dangling until the first save
    real = os.path.realpath(tmp_path)
    assert atomic.check_target(link) == os.path.join(real, "real", "ck.h5")
    assert atomic.check_target(str(tmp_path / "new.h5")) == os.path.join(real, "new.h5")
    assert sorted(os.listdir(tmp_path)) == ["latest.h5", "real"] and os.listdir(tmp_path / "real") == []


def test_check_folder_checks_where_a_name_filled_in_later_will_go(tmp_path):
    template = tmp_path / "ck-{epoch:02d}.h5"
    assert atomic.check_folder(template) == os.path.realpath(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope.*does not exist"):
        atomic.check_folder(tmp_path / "nope" / "ck-{epoch}.h5")
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(PermissionError, match=r"ro.*not writable"):
        atomic.check_folder(tmp_path / "ro" / "ck-{epoch}.h5")
