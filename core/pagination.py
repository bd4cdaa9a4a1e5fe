"""Keyset (cursor) pagination shared by every list that can grow."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ErrorCode, ServiceError

MAX_PAGE_SIZE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class SortKey:
    column: Any
    descending: bool = False


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise ServiceError(ErrorCode.INVALID, "The cursor is not valid.", "after") from exc
    if not isinstance(values, list) or len(values) != size:
        raise ServiceError(ErrorCode.INVALID, "The cursor is not valid.", "after")
    return [_decode_value(v) for v in values]


def check_page_size(first: int | None) -> int:
    if first is None:
        return 20
    if first < 0 or first > MAX_PAGE_SIZE:
        raise ServiceError(ErrorCode.INVALID, f"first must be between 0 and {MAX_PAGE_SIZE}.", "first")
    return first


def _after_clause(keys: list[SortKey], values: list[Any]):
    # (a, b) > (x, y) spelled out so it works for mixed directions on both databases.
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    stmt: Select,
    keys: list[SortKey],
    *,
    first: int | None,
    after: str | None,
    key_values=None,
) -> Page:
    """Run `stmt` one page at a time; `keys` must end in a unique column.

    `key_values(row)` returns the sort values of a row (default: the key columns' names read
    as attributes of the row's first entity).
    """
    limit = check_page_size(first)
    if after:
        stmt = stmt.where(_after_clause(keys, decode_cursor(after, len(keys))))
    ordering = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    rows = list((await session.scalars(stmt.order_by(*ordering).limit(limit + 1))).all())
    has_next = len(rows) > limit
    rows = rows[:limit]
    if key_values is None:
        def key_values(row):
            return [getattr(row, k.column.key) for k in keys]
    cursors = [encode_cursor(key_values(row)) for row in rows]
    return Page(items=rows, cursors=cursors, has_next_page=has_next, has_previous_page=bool(after))
