"""Dataclass configurations as plain dicts, the form in which checkpoints store them."""

from __future__ import annotations

import numbers
from dataclasses import asdict, fields
from typing import ClassVar, TypeVar

from .errors import ArgumentTypeError

__all__ = ["DictConfig"]

C = TypeVar("C", bound="DictConfig")


#: the kinds of the fields' annotations that :meth:`DictConfig.check_kinds` checks
_KINDS = {"int": (numbers.Integral, "an integer"), "float": (numbers.Real, "a number"), "bool": (bool, "True or False"),
          "str": (str, "a string")}


class DictConfig:
    """Mixin for a ``@dataclass`` config: :meth:`to_dict` and back with :meth:`from_dict`;
    :meth:`check_kinds` for its ``__post_init__``."""

    #: the sequence fields, stored as lists
    _list_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict:
        """The fields by name, those of ``_list_fields`` as lists (JSON-ready)."""
        d = asdict(self)
        for name in self._list_fields:
            d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls: type[C], d: dict) -> C:
        """The config of the fields in ``d``; other keys (e.g. of another version) are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def check_kinds(self) -> None:
        """Each field of a plain kind (``int``, ``float``, ``bool``, ``str``, or one of them
        ``| None``) holds a value of that kind (``ArgumentTypeError`` naming the field: "3"
        for an int was a comparison's TypeError, or no error until training)."""
        for f in fields(self):
            kind, _, none = str(f.type).partition(" | ")
            if kind not in _KINDS:
                continue
            value = getattr(self, f.name)
            if value is None and none == "None":
                continue
            cls, what = _KINDS[kind]
            if not isinstance(value, cls) or (cls is not bool and isinstance(value, bool)):
                raise ArgumentTypeError(f"{f.name} must be {what}{' or None' if none else ''}, got {value!r}")
