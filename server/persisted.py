"""Automatic persisted queries (sha256 of the document) and the production allow-list.

A client registers a document by sending it with its hash; the store keeps it only after the
document has parsed and validated (so junk is never stored), only up to a size, and only so
many of them (the oldest go first). With Redis the documents are shared by every process; when
Redis does not answer, lookups miss and the client resends the full document, as the Apollo
protocol expects. With PERSISTED_QUERIES_ONLY, only documents on the allow-list run, by hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("fenxiao.persisted")

MAX_STORED_DOCUMENT_CHARS = 20_000
MAX_STORED_DOCUMENTS = 5_000
STORED_SECONDS = 24 * 3600
_INDEX = "apq:index"


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedQueryStore:
    def __init__(self, redis: Redis | None, allowlist_path: str | None, *, only_known: bool = False,
                 max_documents: int = MAX_STORED_DOCUMENTS) -> None:
        self._redis = redis
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._max_documents = max_documents
        self.allowlist: dict[str, str] | None = None
        if allowlist_path:
            documents = json.loads(Path(allowlist_path).read_text())
            # Either {"<sha256>": "<document>"} or a list of documents.
            if isinstance(documents, list):
                documents = {document_hash(d): d for d in documents}
            self.allowlist = dict(documents)
        if only_known and self.allowlist is None:
            raise ValueError("PERSISTED_QUERIES_ONLY needs PERSISTED_QUERY_ALLOWLIST: the documents that may run.")
        self.only_known = only_known

    async def get(self, sha256: str) -> str | None:
        if self.allowlist is not None:
            return self.allowlist.get(sha256)
        if self._redis is not None:
            try:
                value = await self._redis.get(f"apq:{sha256}")
            except (RedisError, OSError) as exc:
                log.warning("persisted query lookup skipped: Redis is unreachable (%s)", type(exc).__name__)
                return None
            return value.decode() if isinstance(value, bytes) else value
        query = self._memory.get(sha256)
        if query is not None:
            self._memory.move_to_end(sha256)
        return query

    async def put(self, sha256: str, query: str) -> None:
        """Keep a document that has just validated, unless an allow-list decides what runs."""
        if self.allowlist is not None or len(query) > MAX_STORED_DOCUMENT_CHARS:
            return
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(f"apq:{sha256}", query, ex=STORED_SECONDS)
                    pipe.zadd(_INDEX, {sha256: time.time()})
                    pipe.zcard(_INDEX)
                    *_, count = await pipe.execute()
                if count > self._max_documents:
                    evicted = await self._redis.zpopmin(_INDEX, count - self._max_documents)
                    if evicted:
                        await self._redis.delete(*(f"apq:{m.decode() if isinstance(m, bytes) else m}"
                                                   for m, _ in evicted))
            except (RedisError, OSError) as exc:
                log.warning("persisted query not stored: Redis is unreachable (%s)", type(exc).__name__)
            return
        self._memory[sha256] = query
        self._memory.move_to_end(sha256)
        while len(self._memory) > self._max_documents:
            self._memory.popitem(last=False)
