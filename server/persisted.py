"""Automatic persisted queries (sha256 of the document) and the production allow-list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from redis.asyncio import Redis

_MEMORY_LIMIT = 10_000


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryStore:
    def __init__(self, redis: Redis | None, allowlist_path: str | None) -> None:
        self._redis = redis
        self._memory: dict[str, str] = {}
        self.allowlist: dict[str, str] | None = None
        if allowlist_path:
            documents = json.loads(Path(allowlist_path).read_text())
            # Either {"<sha256>": "<document>"} or a list of documents.
            if isinstance(documents, list):
                documents = {document_hash(d): d for d in documents}
            self.allowlist = dict(documents)

    async def get(self, sha256: str) -> str | None:
        if self.allowlist is not None:
            return self.allowlist.get(sha256)
        if self._redis is not None:
            value = await self._redis.get(f"apq:{sha256}")
            return value.decode() if isinstance(value, bytes) else value
        return self._memory.get(sha256)

    async def put(self, sha256: str, query: str) -> None:
        if self.allowlist is not None:
            return
        if self._redis is not None:
            await self._redis.set(f"apq:{sha256}", query, ex=7 * 24 * 3600)
            return
        if len(self._memory) >= _MEMORY_LIMIT:
            self._memory.pop(next(iter(self._memory)))
        self._memory[sha256] = query
