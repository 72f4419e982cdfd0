"""``session.connections`` / ``session.streams`` / ``session.archives``: OpenTok.js's internal
``Collection`` (``helpers/collection.js``), absent from ``opentok.d.ts`` but used by apps
(``session.connections.length()``). Keyed by ``id``, in insertion order; read-only for users."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


class Collection(Generic[T]):
    """``length()``, ``get(id)``, ``has(id)``, ``where(filter)``, ``find(filter)``, iteration.

    A filter is a dict of attribute values (``where({"hasVideo": True})``) or a predicate.
    """

    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def length(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def get(self, id: str) -> T | None:
        return self._items.get(id)

    def has(self, id: str) -> bool:
        return id in self._items

    def where(self, filter: Mapping[str, Any] | Callable[[T], bool]) -> list[T]:
        return [item for item in self._items.values() if _matches(item, filter)]

    def find(self, filter: Mapping[str, Any] | Callable[[T], bool]) -> T | None:
        return next((item for item in self._items.values() if _matches(item, filter)), None)

    def add(self, item: T) -> None:
        self._items[item.id] = item

    def remove(self, id: str) -> None:
        self._items.pop(id, None)

    def clear(self) -> None:
        self._items.clear()

    def __repr__(self) -> str:
        return f"Collection({list(self._items)!r})"


def _matches(item: Any, filter: Mapping[str, Any] | Callable[[Any], bool]) -> bool:
    if callable(filter):
        return bool(filter(item))
    return all(getattr(item, key, None) == value for key, value in filter.items())


__all__ = ["Collection"]
