"""Keras's public names, and gpunet's one answer for those it does not have yet.

gpunet's namespaces are Keras 3's: ``gpunet.layers`` mirrors ``keras.layers``, ``gpunet.ops``
``keras.ops``, and so on down the tree (``gpunet.datasets.mnist`` mirrors ``keras.datasets.mnist``);
``gpunet.schedules`` mirrors ``keras.optimizers.schedules`` and is also reachable under that
name, as ``gpunet.optimizers.schedules``. ``keras-names.json`` beside this file lists every public
name of one Keras release, module by module (written by ``scripts/keras_api_names.py`` where Keras
is installed; gpunet never imports Keras).

Each mirroring module ends with a module ``__getattr__`` (PEP 562) made here, so that a name it
lacks is answered the same way everywhere:

- a name of the Keras module it mirrors raises :class:`~gpunet.errors.NotSupportedYetError` (an
  ``AttributeError``: ``hasattr`` is False) saying ``gpunet does not support keras.layers.LSTM
  yet``; so does a Keras module gpunet lacks entirely (``gpunet.applications``, ``gpunet.random``),
  and ``from gpunet.layers import LSTM`` raises an ImportError with the same message;
- any other name raises Python's own ``AttributeError``, with its "Did you mean" suggestion;
- names that start with an underscore always get the plain ``AttributeError``.

``import gpunet.applications`` (a Keras module gpunet lacks) raises ``ModuleNotFoundError`` with
the message too. ``gpunet.backend`` is gpunet's own array backend (NumPy or CuPy), not
``keras.backend``: it has the few ``keras.backend`` names that mean the same there, and the
others are answered as unsupported with a note saying so.

This module imports nothing of gpunet at import time: every module, the lowest included, can
hook itself here.
"""

from __future__ import annotations

import functools
import importlib
import json
import numbers
import opcode
import os
import sys
import types
from collections.abc import Callable
from typing import NamedTuple

from ..errors import NotSupportedYetError

__all__ = ["keras_version", "keras_modules", "keras_names", "keras_module_of", "gpunet_module_of", "mirror", "supported",
           "coverage", "Coverage", "module_getattr", "check_default", "DOCS"]

DOCS = "docs/keras.md"
_NAMES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras-names.json")

# gpunet modules whose Keras twin is not the Keras module of the same path
_MIRRORS = {"gpunet.schedules": "keras.optimizers.schedules"}
_HOMES = {keras: gpunet for gpunet, keras in _MIRRORS.items()}

# what the message adds for a Keras module whose gpunet namesake is not quite its twin
_NOTES = {
    "keras.backend": "gpunet.backend is gpunet's array backend (NumPy or CuPy), not keras.backend: it has "
                     "only the keras.backend names that mean the same there",
}

_IMPORT_FROM = opcode.opmap["IMPORT_FROM"]


@functools.lru_cache(maxsize=None)
def _stored() -> dict:
    with open(_NAMES_FILE, encoding="utf-8") as f:
        return json.load(f)


def keras_version() -> str:
    """The Keras release whose names are stored (``"3.15.1"``)."""
    return _stored()["keras_version"]


def keras_modules() -> list:
    """Every public module of Keras, by path: ``["keras", "keras.activations", ...]``."""
    return list(_stored()["modules"])


def keras_names(keras_module: str) -> dict:
    """``{name: kind}`` of one Keras module (kind: module, class, function or constant)."""
    try:
        return dict(_stored()["modules"][keras_module])
    except KeyError:
        raise ValueError(f"{keras_module!r} is not a public module of Keras {keras_version()}") from None


def keras_module_of(gpunet_module: str) -> str:
    """The Keras module a gpunet module mirrors: ``"gpunet.layers"`` -> ``"keras.layers"``."""
    if gpunet_module in _MIRRORS:
        return _MIRRORS[gpunet_module]
    if gpunet_module != "gpunet" and not gpunet_module.startswith("gpunet."):
        raise ValueError(f"{gpunet_module!r} is not a gpunet module")
    return "keras" + gpunet_module[len("gpunet"):]


def gpunet_module_of(keras_module: str) -> str:
    """Where gpunet keeps (or would keep) a Keras module: ``"keras.layers"`` -> ``"gpunet.layers"``."""
    return _HOMES.get(keras_module) or "gpunet" + keras_module[len("keras"):]


def mirror(keras_module: str):
    """gpunet's module for a Keras module (``gpunet.schedules`` for ``"keras.optimizers.schedules"``), or None
    where gpunet lacks it."""
    home = gpunet_module_of(keras_module)
    if keras_module in _HOMES:
        return importlib.import_module(home)
    module = importlib.import_module("gpunet")
    for part in home.split(".")[1:]:
        module = getattr(module, part, None)
        if not isinstance(module, types.ModuleType):
            return None
    return module


def supported(keras_module: str) -> list:
    """The names of a Keras module that gpunet has, sorted (empty where gpunet lacks the module)."""
    names = keras_names(keras_module)
    module = mirror(keras_module)
    return [] if module is None else sorted(name for name in names if hasattr(module, name))


class Coverage(NamedTuple):
    """How much of one Keras module gpunet has: ``supported`` names out of ``total``."""

    keras: str
    gpunet: str | None  # gpunet's module, None where it has none
    supported: tuple
    total: int


def coverage() -> list:
    """One :class:`Coverage` per public Keras module, in the stored list's order."""
    result = []
    for keras_module in keras_modules():
        module = mirror(keras_module)
        result.append(Coverage(keras_module, None if module is None else gpunet_module_of(keras_module),
                               tuple(supported(keras_module)), len(keras_names(keras_module))))
    return result


def _same(value, default) -> bool:
    if value is default:
        return True
    if isinstance(value, bool) or isinstance(default, bool):
        return False
    if isinstance(value, (list, tuple, dict)) or isinstance(default, (list, tuple, dict)):
        return type(value) is type(default) and value == default  # a list equal to a list default, item for item
    if type(value) is not type(default) and not (isinstance(value, numbers.Real) and isinstance(default, numbers.Real)):
        return False  # a NumPy number equal to a number default is the same
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 - an array, or an object with a strange __eq__
        return False


def check_default(owner: str, name: str, value, default) -> None:
    """A Keras argument gpunet does not implement: Keras's ``default`` is accepted (a script may
    pass it), any other value raises ValueError naming the argument, so that nothing a Keras
    script asks for is dropped silently."""
    if not _same(value, default):
        raise ValueError(f"{owner}: {name} is not supported by gpunet ({name}={value!r} given; only Keras's "
                         f"default, {name}={default!r}, is accepted)")


def _message(keras_name: str, keras_module: str) -> str:
    note = f" ({_NOTES[keras_module]})" if keras_module in _NOTES else ""
    return (f"gpunet does not support {keras_name} yet{note}. The Keras names gpunet has are listed in {DOCS}, "
            f"and by gpunet.keras_api.supported({keras_module!r})")


def _not_supported(keras_name: str, keras_module: str, module: str) -> NotSupportedYetError:
    return NotSupportedYetError(_message(keras_name, keras_module), keras_name, module)


def _importing(frame) -> bool:
    """Whether ``frame`` is executing ``from module import name``."""
    code, at = frame.f_code.co_code, frame.f_lasti
    return 0 <= at < len(code) and code[at] == _IMPORT_FROM


def module_getattr(module_name: str) -> Callable:
    """The ``__getattr__`` of the gpunet module ``module_name`` (see the module docstring)::

        __getattr__ = keras_api.module_getattr(__name__)   # the last line of a mirroring module
    """
    keras_module = keras_module_of(module_name)

    def __getattr__(name: str):
        if not name.startswith("_"):
            keras_name = f"{keras_module}.{name}"
            if keras_name in _HOMES:  # a Keras module gpunet keeps elsewhere
                return importlib.import_module(_HOMES[keras_name])
            if name in _stored()["modules"].get(keras_module, ()):
                error = _not_supported(keras_name, keras_module, module_name)
                if _importing(sys._getframe(1)):  # Python would replace an AttributeError by its own ImportError
                    if f"{module_name}.{name}" in sys.modules:  # Python's fallback: a submodule being imported
                        return sys.modules[f"{module_name}.{name}"]
                    raise ImportError(str(error), name=module_name) from error
                raise error
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}", name=name, obj=sys.modules.get(module_name))

    __getattr__.keras_module = keras_module
    return __getattr__


class _MissingKerasModules:
    """A finder consulted last (after every real one failed): ``import gpunet.applications``, a
    Keras module gpunet lacks, raises ModuleNotFoundError with the not-supported message."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if not fullname.startswith("gpunet."):
            return None
        keras_module = keras_module_of(fullname)
        if keras_module not in _stored()["modules"]:
            return None
        home = gpunet_module_of(keras_module)
        if home != fullname:  # gpunet.optimizers.schedules: gpunet keeps it as gpunet.schedules
            raise ModuleNotFoundError(f"gpunet keeps {keras_module} as {home}: import {home} instead", name=fullname)
        error = _not_supported(keras_module, keras_module.rpartition(".")[0], fullname.rpartition(".")[0])
        raise ModuleNotFoundError(str(error), name=fullname) from error


if not any(isinstance(finder, _MissingKerasModules) for finder in sys.meta_path):
    sys.meta_path.append(_MissingKerasModules())
