"""A dict that also files its items by group: one group's items without a scan of all.

The webhooks and invitations under way are kept by their own key (an ``Idempotency-Key``,
an operationId) but asked for by conversation at every commit of a durable bot
(:class:`~ucwa_flow.runtime.changes.PageWriter`): :class:`Grouped` answers that from an
index kept in step with the dict, so the cost does not grow with the number of
conversations waiting.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    Hashable,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from types import MappingProxyType
from typing import Any, Generic, TypeVar

__all__ = ["Grouped"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
G = TypeVar("G", bound=Hashable)

_NONE: Mapping[Any, Any] = MappingProxyType({})


class Grouped(MutableMapping[K, V], Generic[K, V, G]):
    """A mutable mapping whose items are also filed under ``group_of(value)``, taken when
    the item is put in (a value's group must not change while it is in).

    :meth:`of` lists a group's items in the mapping's order: replacing an item by one of
    another group moves it to the end, as removing it and putting it in would."""

    __slots__ = ("_filed", "_group_of", "_groups", "_items")

    def __init__(self, group_of: Callable[[V], G]) -> None:
        self._group_of = group_of
        self._items: dict[K, V] = {}
        self._filed: dict[K, G] = {}  # key -> the group it is filed under
        self._groups: dict[G, dict[K, V]] = {}

    def of(self, group: G) -> Mapping[K, V]:
        """The items of ``group``, in the order they were put in (a view, not a copy)."""
        return self._groups.get(group, _NONE)

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __setitem__(self, key: K, value: V) -> None:
        group = self._group_of(value)
        before = self._filed.get(key, _NONE)
        if before is not _NONE and before != group:
            del self[key]  # to the end, as in its new group: a group keeps the mapping's order
        self._items[key] = value
        self._filed[key] = group
        members = self._groups.get(group)
        if members is None:
            members = self._groups[group] = {}
        members[key] = value

    def __delitem__(self, key: K) -> None:
        del self._items[key]
        self._unfile(key)

    def _unfile(self, key: K) -> None:
        group = self._filed.pop(key)
        members = self._groups[group]
        del members[key]
        if not members:
            del self._groups[group]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # the mixins' versions go through __getitem__ and KeyError; these are the dict's own
    def get(self, key: K, default: Any = None) -> Any:
        return self._items.get(key, default)

    def pop(self, key: K, default: Any = _NONE) -> Any:
        if key in self._items:
            value = self._items.pop(key)
            self._unfile(key)
            return value
        if default is _NONE:
            raise KeyError(key)
        return default

    def keys(self) -> KeysView[K]:
        return self._items.keys()

    def values(self) -> ValuesView[V]:
        return self._items.values()

    def items(self) -> ItemsView[K, V]:
        return self._items.items()

    def clear(self) -> None:
        self._items.clear()
        self._filed.clear()
        self._groups.clear()

    def __repr__(self) -> str:
        return f"Grouped({self._items!r})"
