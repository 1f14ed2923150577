"""Finding gpunet's classes by name, and the configuration protocol they share.

Optimizers, losses and initializers are given by a short name (``"adam"``), by Keras's class name
(``"Adam"``), by a config dict (``{"class_name": "Adam", "config": {...}}``, as files store them)
or as an object. A :class:`Lookup` resolves the names and gives the error that lists the valid
ones; only the classes it was given can ever be built, which is what makes loading files safe.
"""

from __future__ import annotations

__all__ = ["Lookup", "Configurable"]


class Lookup:
    """Classes of one kind (``"optimizer"``), by short name and by class name."""

    def __init__(self, kind: str, base: type, by_name: dict, case_sensitive: bool = False):
        self.kind = kind
        self.base = base
        self.by_name = by_name
        self.case_sensitive = case_sensitive
        self.class_names = {cls.__name__: cls for cls in by_name.values()}

    def find(self, name):
        """The class for a short or class name; ``ValueError`` listing the valid names otherwise."""
        if isinstance(name, str):
            key = name if self.case_sensitive else name.lower()
            cls = self.by_name.get(key) or self.class_names.get(name)
            if cls is not None:
                return cls
        raise ValueError(f"unknown {self.kind} {name!r}; valid names are {sorted(self.by_name)}")

    def get(self, identifier, from_config):
        """An instance from an object, a name (default arguments) or a config dict
        (rebuilt by ``from_config(dict)``)."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.find(identifier)()
        if isinstance(identifier, dict) and "class_name" in identifier:
            return from_config(identifier)
        raise TypeError(
            f"{self.kind} must be a name or a {self.base.__module__}.{self.base.__name__}, got {type(identifier).__name__}"
        )


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
