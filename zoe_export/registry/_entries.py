"""What both registries share: named entries, registered once, looked up with an error that lists the names."""
from __future__ import annotations

import contextlib
from typing import Callable, Generic, Iterator, TypeVar

from ..errors import ZoeExportError

T = TypeVar("T")


class Entries(Generic[T]):
    """Entries (dataclasses with a ``name``) of one kind, in registration order."""

    def __init__(self, kind: str, check: Callable[[T, dict[str, T]], None] | None = None):
        self.kind, self._check, self._entries = kind, check, {}

    def register(self, entry: T, replace: bool = False) -> T:
        if entry.name in self._entries and not replace:
            raise ZoeExportError(f"{self.kind} {entry.name!r} is registered already.")
        if self._check is not None:
            self._check(entry, {n: e for n, e in self._entries.items() if n != entry.name})
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ZoeExportError(f"{self.kind} {name!r}: choose one of {', '.join(self._entries)}.") from None

    def all(self) -> list[T]:
        return list(self._entries.values())

    @contextlib.contextmanager
    def registered(self, entry: T) -> Iterator[T]:
        """``entry`` registered (replacing one of its name) inside the block, the registry restored after it:
        for tests and experiments ("test-only entries live with the tests")."""
        previous = self._entries.get(entry.name)
        self.register(entry, replace=True)
        try:
            yield entry
        finally:
            if previous is None:
                self._entries.pop(entry.name, None)
            else:
                self._entries[entry.name] = previous
