"""Dataclass configurations as plain dicts, the form in which checkpoints store them."""

from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar, TypeVar

__all__ = ["DictConfig"]

C = TypeVar("C", bound="DictConfig")


class DictConfig:
    """Mixin for a ``@dataclass`` config: :meth:`to_dict` and back with :meth:`from_dict`."""

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
