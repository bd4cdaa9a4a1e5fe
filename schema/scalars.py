"""Money (decimal yuan string over integer fen), basis points and UTC date-times.

A value a scalar refuses raises `InvalidScalarValue`, for literals written inline and for
variables alike, so the client gets a validation error with the reason, never an internal one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry
from graphql import GraphQLError

from core.money import format_money, parse_money

Money = NewType("Money", int)
BasisPoints = NewType("BasisPoints", int)

class InvalidScalarValue(GraphQLError):
    """A scalar input the API refuses: reported as a validation error with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def _parse_money(value: object) -> int:
    try:
        return parse_money(value)
    except ValueError as exc:
        raise InvalidScalarValue(str(exc)) from None


_money = strawberry.scalar(
    name="Money",
    description='An amount of money in yuan as a decimal string with two decimals, e.g. "12.34", '
                "at most 99999999.99. Stored and computed as integer fen.",
    serialize=format_money,
    parse_value=_parse_money,
)


def _parse_bps(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidScalarValue("BasisPoints must be an integer (1% = 100).")
    if not 0 <= value <= 10_000:
        raise InvalidScalarValue("BasisPoints must be between 0 and 10000.")
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
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidScalarValue("DateTime must be an ISO 8601 string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise InvalidScalarValue("DateTime needs a time zone, e.g. 2026-01-01T00:00:00Z.")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidScalarValue(f"Invalid ISO 8601 date-time {value!r}.") from None


_datetime = strawberry.scalar(
    name="DateTime",
    description="A UTC date-time in ISO 8601, e.g. 2026-01-01T08:00:00Z.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)

SCALAR_MAP = {Money: _money, BasisPoints: _basis_points, datetime: _datetime}
