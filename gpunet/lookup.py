"""Finding classes by name: gpunet's own, and the ones users register.

Optimizers, losses, initializers, schedules, layers, callbacks and models are given by a short name
(``"adam"``), by their class name (``"Adam"``), by a config dict (``{"class_name": "Adam", "config":
{...}}``, as files store them) or as an object. A :class:`Lookup` resolves the names of one kind and
gives the error that lists the valid ones. Only classes it was given, or that a user registered with
:func:`register_serializable`, can ever be built: that is what makes loading a file safe (nothing
named in a file is imported or evaluated).

A user class round-trips through model files once registered, as with Keras's
``register_keras_serializable``::

    @gpunet.saving.register_serializable(package="my_project")
    class Scale(gpunet.layers.Layer):
        ...

Files then name it ``"my_project>Scale"`` (Keras's ``registered_name``), and ``load_model`` finds
it again in the registry, whichever module defined it.
"""

from __future__ import annotations

import contextlib

__all__ = [
    "Lookup", "Configurable", "register_serializable", "get_registered_name", "get_registered_object",
    "custom_object_scope",
]

_REGISTERED: dict = {}  # "package>Name" -> class or function
_NAMES: dict = {}  # class or function -> "package>Name"
_SCOPES: list = []  # dicts given to custom_object_scope / load_model(custom_objects=...)


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: register a user-defined class (layer, loss, metric, callback, optimizer,
    initializer, schedule, model) under ``"package>name"`` so that files can name it.

    The class must have ``get_config()`` (its constructor arguments), and ``from_config(config)``
    when ``cls(**config)`` does not rebuild it.
    """
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"package must be a non-empty string without '>', got {package!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name must be a non-empty string or None, got {name!r}")

    def decorator(obj):
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"cannot register {obj.__name__}: it has no get_config() method")
        key = f"{package}>{name or obj.__name__}"
        _REGISTERED[key] = obj
        _NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"package>Name"`` for a registered class, else its plain class name."""
    return _NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name: str, custom_objects=None, module_objects=None):
    """The class registered under ``name``, or None. Looked for, as Keras does, in
    ``custom_objects``, the active :func:`custom_object_scope` (innermost first), the registry
    (``"package>Name"``), then ``module_objects`` (both dicts of name -> class)."""
    for what, objects in (("custom_objects", custom_objects), ("module_objects", module_objects)):
        if objects is not None and not isinstance(objects, dict):
            raise TypeError(f"{what} must be a dict of name -> class, got {type(objects).__name__}")
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_SCOPES):
        if name in scope:
            return scope[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    return (module_objects or {}).get(name)


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict | None):
    """Make ``{"Name": cls}`` findable by name while loading (Keras's ``custom_objects``)."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict of name -> class, got {type(custom_objects).__name__}")
    _SCOPES.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _SCOPES.pop()


class Lookup:
    """Classes of one kind (``"optimizer"``), by short name and by class name, plus the user
    classes registered as subclasses of ``base``."""

    def __init__(self, kind: str, base: type, by_name: dict, case_sensitive: bool = False):
        self.kind = kind
        self.base = base
        self.by_name = by_name
        self.case_sensitive = case_sensitive
        self.class_names = {cls.__name__: cls for cls in by_name.values()}

    def _registered(self, name):
        obj = get_registered_object(name) if isinstance(name, str) else None
        return obj if isinstance(obj, type) and issubclass(obj, self.base) else None

    def find(self, name, registered_name=None):
        """The class for a short, class or registered name; ``ValueError`` listing the valid names."""
        if isinstance(registered_name, str):
            cls = self._registered(registered_name)
            if cls is not None:
                return cls
        if isinstance(name, str):
            key = name if self.case_sensitive else name.lower()
            cls = self.by_name.get(key) or self.class_names.get(name) or self._registered(name)
            if cls is not None:
                return cls
        shown = registered_name if isinstance(registered_name, str) else name
        raise ValueError(
            f"unknown {self.kind} {shown!r}; valid names are {sorted(self.by_name)}, or a class registered "
            "with @gpunet.saving.register_serializable() (nothing from a file is imported or evaluated)"
        )

    def get(self, identifier, from_config=None):
        """An instance from an object, a name (default arguments) or a config dict
        (rebuilt by ``from_config(dict)``, default :meth:`deserialize`)."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.find(identifier)()
        if isinstance(identifier, dict) and "class_name" in identifier:
            return (from_config or self.deserialize)(identifier)
        raise TypeError(
            f"{self.kind} must be a name or a {self.base.__module__}.{self.base.__name__}, got {type(identifier).__name__}"
        )

    def serialize(self, obj) -> dict:
        """Keras's form ``{"class_name", "config", "registered_name"}`` (the last only for user
        classes); a TypeError for anything but a ``base`` object (a plain function has no config)."""
        if not isinstance(obj, self.base):
            raise TypeError(
                f"only {self.base.__name__} objects can be saved, got {type(obj).__name__}: write the {self.kind} as a "
                f"{self.base.__name__} subclass with get_config() and register it with @gpunet.saving.register_serializable()"
            )
        entry = {"class_name": type(obj).__name__, "config": obj.get_config()}
        if type(obj) in _NAMES:
            entry["registered_name"] = _NAMES[type(obj)]
        return entry

    def deserialize(self, config: dict, keep=None):
        """Rebuild an object from :meth:`serialize`'s form. ``keep`` filters the config of gpunet's
        own classes (Keras writes keys they do not take); user classes get their config whole."""
        if not isinstance(config, dict):
            raise ValueError(f"a {self.kind} must be given as {{'class_name': ..., 'config': {{...}}}}, got {type(config).__name__}")
        cls = self.find(config.get("class_name"), config.get("registered_name"))
        kwargs = config.get("config") or {}
        if not isinstance(kwargs, dict):
            raise ValueError(f"the config of {self.kind} {cls.__name__} must be an object, got {type(kwargs).__name__}")
        if keep is not None and cls in self.by_name.values():
            kwargs = keep(cls, dict(kwargs))
        try:
            return cls.from_config(dict(kwargs))
        except TypeError as exc:
            raise ValueError(f"{self.kind} {cls.__name__}: unsupported settings ({exc})") from None


class Configurable:
    """``get_config()`` returns the constructor arguments, ``from_config`` rebuilds from them."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
