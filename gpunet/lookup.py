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

gpunet's own classes join the same registry through the same function, :func:`register`, under the
package ``"gpunet"``: the base class of a kind (``Layer``, ``Model``, ``Optimizer``) calls
:func:`join_registry` from ``__init_subclass__``, so a class defined in any module under ``gpunet.``
is found by its class name with no table to edit. Files keep naming gpunet's classes by their plain
class name (no ``registered_name``), as Keras does for its own.
"""

from __future__ import annotations

import contextlib
import re

__all__ = [
    "Lookup", "Configurable", "Registered", "register", "register_serializable", "join_registry", "builtin_classes",
    "snake_case", "keras_snake_case",
    "get_registered_name", "get_registered_object", "custom_object_scope",
]

BUILTIN_PACKAGE = "gpunet"
_REGISTERED: dict = {}  # "package>Name" -> class or function, gpunet's own and users'
_NAMES: dict = {}  # class or function -> "package>Name"
_BUILTIN: dict = {}  # kind ("layer", "optimizer", "model") -> {"Name": class} of package "gpunet"
_BASES: dict = {}  # kind -> the base class that declared it (registry_kind = kind in its body)
_SCOPES: list = []  # dicts given to custom_object_scope / load_model(custom_objects=...)


def register(obj, package: str, name: str | None = None, kind: str | None = None):
    """The one way into the registry: ``obj`` becomes findable as ``"package>name"`` (default
    name: its ``__name__``). gpunet's own classes come with ``package="gpunet"`` and their
    ``kind``, which also makes them findable by their plain class name among that kind's."""
    _check_key(package, name)
    if isinstance(obj, type) and not hasattr(obj, "get_config"):
        raise ValueError(f"cannot register {obj.__name__}: it has no get_config() method")
    name = name or obj.__name__
    key = f"{package}>{name}"
    _REGISTERED[key] = obj
    _NAMES[obj] = key
    if package == BUILTIN_PACKAGE and kind is not None:
        _BUILTIN.setdefault(kind, {})[name] = obj
    return obj


def _check_key(package, name) -> None:
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"package must be a non-empty string without '>', got {package!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name must be a non-empty string or None, got {name!r}")


def join_registry(cls: type, kind: str) -> None:
    """Called by a kind's base class for each new subclass: a class defined under ``gpunet.``
    joins the registry as one of gpunet's own of that ``kind``. Private classes (``_Conv``, shared
    bases) and those that say ``loadable = False`` in their own body (``Lambda``: its config would
    be code) stay out, and so do user classes, which join with :func:`register_serializable`."""
    if cls.__dict__.get("registry_kind") == kind:
        _BASES[kind] = cls  # the base of a kind of its own (Model among layers) is not itself loadable
        return
    if not cls.__module__.startswith(BUILTIN_PACKAGE + "."):
        return
    if cls.__name__.startswith("_") or cls.__dict__.get("loadable", True) is False:
        return
    same = _BUILTIN.get(kind, {}).get(cls.__name__)
    if same is not None and (same.__module__, same.__qualname__) != (cls.__module__, cls.__qualname__):
        # files name gpunet's classes by class name alone: a second class of that name would shadow the first
        raise TypeError(f"gpunet has two {kind} classes named {cls.__name__!r} ({same.__module__} and "
                        f"{cls.__module__}): rename one, or make it private (a leading '_')")
    register(cls, BUILTIN_PACKAGE, kind=kind)


class Registered:
    """Mixed into the base class of a kind (``Layer``, ``Optimizer``...), which names its kind in
    ``registry_kind``: gpunet's own subclasses then join the registry as they are defined, and
    the base becomes the kind's base. ``loadable = False`` in a class's own body keeps that class
    out (its subclasses decide for themselves)."""

    registry_kind = ""
    loadable = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        join_registry(cls, cls.registry_kind)


def snake_case(cls) -> str:
    """``"exponential_decay"`` for ExponentialDecay, ``"l1_l2"`` for L1L2: a class's short name
    where a kind's short names follow Keras's functions (schedules, initializers...)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def keras_snake_case(name: str) -> str:
    """Keras's ``to_snake_case`` of a class name: ``KLDivergence`` -> ``"kl_divergence"``,
    ``MeanIoU`` -> ``"mean_io_u"``: the names Keras's losses and metrics are found by."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def builtin_classes(kind: str) -> dict:
    """gpunet's own classes of ``kind``, by class name (a copy)."""
    return dict(_BUILTIN.get(kind, {}))


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: register a user-defined class (layer, loss, metric, callback, optimizer,
    initializer, schedule, model) under ``"package>name"`` so that files can name it.

    The class must have ``get_config()`` (its constructor arguments), and ``from_config(config)``
    when ``cls(**config)`` does not rebuild it.
    """
    _check_key(package, name)  # wrong arguments fail at the decorator's line, not at the class
    return lambda obj: register(obj, package, name)


def _user_name(obj):
    """``"package>Name"`` for a class a user registered; None for gpunet's own and the rest."""
    key = _NAMES.get(obj)
    return None if key is None or key.startswith(BUILTIN_PACKAGE + ">") else key


def get_registered_name(obj) -> str:
    """``"package>Name"`` for a user-registered class, else its plain class name (gpunet's own
    classes, as Keras's, are named by their class name)."""
    return _user_name(obj) or getattr(obj, "__name__", type(obj).__name__)


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
    classes registered as subclasses of ``base``.

    The kind's classes come from the registry, gpunet's own of ``kind`` as they join it: their
    class names, or ``short_name(cls)`` for each (None: no short name), plus ``aliases`` (Keras's
    other names, such as the initializer ``"normal"`` or the loss ``"mse"``).
    ``base`` may be None when the kind's base class registers later (models): it is then the class
    that declared ``registry_kind = kind``."""

    def __init__(self, kind: str, base: type | None = None, case_sensitive: bool = False, short_name=None,
                 aliases: dict | None = None):
        self.kind = kind
        self._base = base
        self.short_name = short_name
        self.aliases = dict(aliases or {})
        self.case_sensitive = case_sensitive
        self._class_names = {cls.__name__: cls for cls in self.aliases.values()}

    @property
    def base(self) -> type:
        return self._base if self._base is not None else _BASES[self.kind]

    @property
    def by_name(self) -> dict:
        """Short name -> class: the registry's classes of this kind (their short names, or their
        class names when the kind has no short names), and the aliases."""
        classes = builtin_classes(self.kind)
        if self.short_name is not None:
            classes = {self.short_name(cls): cls for cls in classes.values() if self.short_name(cls)}
        return {**classes, **self.aliases}

    @property
    def class_names(self) -> dict:
        """Class name -> class: the registry's classes of this kind now, and the aliases' (Keras
        names a few base classes)."""
        return {**self._class_names, **builtin_classes(self.kind)}

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
        if _user_name(type(obj)) is not None:
            entry["registered_name"] = _user_name(type(obj))
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
        if keep is not None and (cls in self.by_name.values() or builtin_classes(self.kind).get(cls.__name__) is cls):
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
