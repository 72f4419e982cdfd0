"""JS ``Map`` containers and ``toJSON`` (twilio-video.js ``lib/util/index.js``).

:class:`JSMap` is what ``room.participants`` and a participant's ``tracks`` / ``audioTracks`` /
``videoTracks`` / ``dataTracks`` are: a ``dict`` (``len``, iteration over keys, ``[]``, ``in``,
``.items()``) with the members of a JS ``Map`` a port touches (``size``, ``get``, ``has``,
``forEach(value, key, map)``, ``keys()``, ``values()``, ``entries()``, ``set``, ``delete``).

:func:`valueToJSON` is the original's ``valueToJSON``: lists, tuples and sets become lists, maps
become dicts, objects become dicts of their JSON properties, recursively. An object's JSON
properties are the original's enumerable own properties, which each class lists in
``_JSON_PROPERTIES``; private state (``_``-prefixed, non-enumerable in the original) and
methods are never part of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from compat.core.emitter import Listener

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class JSMap(dict[K, V]):
    """A dict that also answers to JS ``Map``'s members (the original's ``Map`` containers)."""

    @property
    def size(self) -> int:
        return len(self)

    def has(self, key: K) -> bool:
        return key in self

    def set(self, key: K, value: V) -> JSMap[K, V]:
        self[key] = value
        return self

    def delete(self, key: K) -> bool:
        """``Map.prototype.delete``: whether the key was there."""
        return self.pop(key, _MISSING) is not _MISSING

    def entries(self) -> Iterator[tuple[K, V]]:
        """``[key, value]`` pairs (tuples), in insertion order."""
        return iter(list(self.items()))

    def forEach(self, callback: Callable[..., Any]) -> None:
        """``callback(value, key, map)`` for each entry, called as JS calls it: a callback
        declaring fewer parameters gets fewer arguments, and an ``async def`` one runs up to its
        first ``await`` before the next entry (its failure is logged, as an unhandled rejection)."""
        listener = Listener(callback)
        for key, value in list(self.items()):
            listener.call((value, key, self), _unhandled_rejection)


def _unhandled_rejection(error: BaseException) -> None:
    logger.error("error in an async forEach callback", exc_info=error)


_MISSING = object()


def valueToJSON(value: Any) -> Any:
    """``lib/util/index.js`` ``valueToJSON``: maps to dicts, sequences and sets to lists, objects
    to dicts of their JSON properties, recursively; anything else as it is."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {key: valueToJSON(v) for key, v in value.items()}  # mapToJSON / objectToJSON
    if isinstance(value, (list, tuple, set, frozenset)):
        return [valueToJSON(v) for v in value]  # arrayToJSON / setToJSON
    names = getattr(type(value), "_JSON_PROPERTIES", None)
    if names is not None:
        return {name: valueToJSON(getattr(value, name, None)) for name in names}
    if attrs.has(type(value)):
        return {f.name: valueToJSON(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if callable(value):
        return None  # a function: JSON has no value for it
    public = getattr(value, "__dict__", None)
    if public is None:
        return value
    return {k: valueToJSON(v) for k, v in public.items() if not k.startswith("_") and not callable(v)}


__all__ = ["JSMap", "valueToJSON"]
