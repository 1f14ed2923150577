"""CSVLogger: one row per report (epoch), in a CSV file."""

from __future__ import annotations

import csv
import os

from .base import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write ``epoch`` and every logged value to ``filename``, one row per report.

    With ``append=True`` rows are added to an existing file (its header kept), so a resumed run
    continues the same log.
    """

    main_process_only = True  # prints or writes files: rank 0 only in a data-parallel fit

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a path, got {type(filename).__name__}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character, got {separator!r}")
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if has_rows:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        else:
            self._keys = None
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115 - closed in on_train_end
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:  # every key fit will log, even those missing this epoch (validation_freq)
            planned = list(self.params.get("log_keys") or [])
            self._keys = planned + [k for k in logs if k not in planned]
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], delimiter=self.separator,
                                          extrasaction="ignore", restval="")
            if self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None
