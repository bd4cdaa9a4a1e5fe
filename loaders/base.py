"""The loader base classes every domain's loaders module builds on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from strawberry.dataloader import DataLoader


class OperationLoader(DataLoader):
    """A DataLoader that exists once per operation.

    `SomethingLoader(context)` looks the loader up in the operation's scope and creates it there
    on first use; later calls in the same operation get the same instance (and its cache).
    Subclasses implement `batch_load(keys)` and may use `self.context` (viewer, session).
    """

    def __new__(cls, context: Any):
        loaders = context.scope.loaders
        loader = loaders.get(cls)
        if loader is None:
            loader = super().__new__(cls)
            loader.context = context
            DataLoader.__init__(loader, load_fn=loader.batch_load)
            loaders[cls] = loader
        return loader

    def __init__(self, context: Any) -> None:
        """Set up once in __new__; a second `Loader(context)` must not reset the cache."""

    @property
    def session(self):
        return self.context.session

    async def batch_load(self, keys: list) -> Sequence[Any]:
        raise NotImplementedError


class KeyedLoader(OperationLoader):
    """Loads by key through `fetch(session, keys) -> {key: value}`; missing keys load None.

    Subclasses set `fetch` to a service function (wrapped in staticmethod).
    """

    fetch: ClassVar[Any]

    async def batch_load(self, keys: list) -> list:
        found = await type(self).fetch(self.session, list(keys))
        return [found.get(key) for key in keys]


class GroupedLoader(OperationLoader):
    """Loads keys `(key, group)` with one `fetch(session, keys, group)` call per group in the
    operation, e.g. the purchase prices of many SKUs for one grade."""

    fetch: ClassVar[Any]

    async def batch_load(self, keys: list[tuple[Hashable, Hashable]]) -> list:
        by_group: dict[Hashable, list[Hashable]] = defaultdict(list)
        for key, group in keys:
            by_group[group].append(key)
        found: dict[tuple[Hashable, Hashable], Any] = {}
        for group, group_keys in by_group.items():
            for key, value in (await type(self).fetch(self.session, group_keys, group)).items():
                found[(key, group)] = value
        return [found.get(k) for k in keys]
