"""Atomic saving: killed writers, full disks and unwritable folders never cost the last checkpoint."""

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
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
    return [name for name in os.listdir(folder) if name.endswith(atomic.TEMP_SUFFIX)]


def _kill_during_saves(tmp_path, kills):
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    path = str(tmp_path / "ck.h5")
    rng = random.Random(1234)
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}
    interrupted_saves = 0
    for i in range(kills):
        marker = tmp_path / f"started-{i}"
        proc = subprocess.Popen([sys.executable, str(script), path, str(marker)], env=env,
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
        temps = _temps(str(tmp_path))
        interrupted_saves += bool(temps)
        assert len(temps) <= 1, f"temporary files pile up: {temps}"
        model = gpunet.load_model(path)  # the last complete checkpoint always loads
        assert all(np.all(np.isfinite(w)) for w in model.get_weights())
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

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match=r"cannot save .*ck\.h5.*Permission denied"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_for_real(tmp_path):
    model, path, before = _saved_model(tmp_path)
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(OSError, match="ck.h5"):
            model.save(path)
    finally:
        os.chmod(tmp_path, 0o755)
    assert path.read_bytes() == before


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Sequential([Input((3,)), Dense(2)]).save(tmp_path / "nope" / "ck.h5")


def test_stale_temporary_files_are_cleaned_by_the_next_save(tmp_path):
    model, path, _ = _saved_model(tmp_path)
    stale = tmp_path / (".ck.h5.abc123" + atomic.TEMP_SUFFIX)
    stale.write_bytes(b"half a file")
    other = tmp_path / (".other.h5.abc" + atomic.TEMP_SUFFIX)
    other.write_bytes(b"not ours")
    model.save(path)
    assert not stale.exists() and other.exists()
