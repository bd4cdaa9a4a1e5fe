"""Money is integer fen inside and a two-decimal string outside; splits never create a fen."""

from __future__ import annotations

import pytest
import strawberry
from hypothesis import given
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig

from core.money import MAX_MONEY_FEN, format_money, parse_money, split_bps
from schema.scalars import SCALAR_MAP, BasisPoints, Money

fen = st.integers(min_value=-MAX_MONEY_FEN, max_value=MAX_MONEY_FEN)


@given(fen)
def test_format_then_parse_is_identity(amount):
    assert parse_money(format_money(amount)) == amount


@given(st.integers(min_value=MAX_MONEY_FEN + 1, max_value=10**18))
def test_amounts_past_the_api_bound_are_refused(amount):
    with pytest.raises(ValueError):
        parse_money(format_money(amount))


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_split_rounds_down_and_never_exceeds_the_whole(amount, rate):
    share = split_bps(amount, rate)
    assert 0 <= share <= amount
    assert share * 10_000 <= amount * rate < (share + 1) * 10_000


@pytest.mark.parametrize("text,expected", [("12.34", 1234), ("0.5", 50), ("7", 700), ("-1.05", -105), ("0.00", 0)])
def test_parse_examples(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize("bad", ["1.234", "abc", "", "1,00", "1e3", " .5", 12.34])
def test_parse_refuses(bad):
    with pytest.raises(ValueError):
        parse_money(bad)


@strawberry.type
class _Query:
    @strawberry.field
    def double(self, amount: Money) -> Money:
        return Money(amount * 2)

    @strawberry.field
    def rate(self, bps: BasisPoints) -> BasisPoints:
        return bps


_schema = strawberry.Schema(_Query, config=StrawberryConfig(scalar_map=SCALAR_MAP))


def test_money_scalar_over_graphql():
    result = _schema.execute_sync('{ double(amount: "10.05") }')
    assert result.data == {"double": "20.10"}
    result = _schema.execute_sync("query($a: Money!) { double(amount: $a) }", variable_values={"a": 10.05})
    assert result.errors and "decimal string" in result.errors[0].message
    result = _schema.execute_sync("query($a: Money!) { double(amount: $a) }", variable_values={"a": "0.001"})
    assert result.errors and "at most two decimals" in result.errors[0].message


def test_basis_points_scalar_range():
    assert _schema.execute_sync("{ rate(bps: 250) }").data == {"rate": 250}
    assert _schema.execute_sync("{ rate(bps: 10001) }").errors
    assert _schema.execute_sync("query($r: BasisPoints!) { rate(bps: $r) }", variable_values={"r": 1.5}).errors
