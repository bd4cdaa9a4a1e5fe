"""Money (decimal yuan string over integer fen), basis points and UTC date-times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry

from core.money import format_money, parse_money

Money = NewType("Money", int)
BasisPoints = NewType("BasisPoints", int)

_money = strawberry.scalar(
    name="Money",
    description='An amount of money in yuan as a decimal string with two decimals, e.g. "12.34". '
                "Stored and computed as integer fen.",
    serialize=format_money,
    parse_value=parse_money,
)


def _parse_bps(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("BasisPoints must be an integer (1% = 100).")
    if not 0 <= value <= 10_000:
        raise ValueError("BasisPoints must be between 0 and 10000.")
    return value


_basis_points = strawberry.scalar(
    name="BasisPoints",
    description="A rate in integer basis points: 1% = 100, 100% = 10000.",
    serialize=int,
    parse_value=_parse_bps,
)


def _serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"Invalid ISO 8601 date-time {value!r}.") from exc
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone, e.g. 2026-01-01T00:00:00Z.")
    return parsed.astimezone(UTC)


_datetime = strawberry.scalar(
    name="DateTime",
    description="A UTC date-time in ISO 8601, e.g. 2026-01-01T08:00:00Z.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)

SCALAR_MAP = {Money: _money, BasisPoints: _basis_points, datetime: _datetime}
