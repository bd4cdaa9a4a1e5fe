"""Money is integer fen everywhere inside; "12.34" yuan strings only at the API edge."""

from __future__ import annotations

import re

# The largest amount the API takes: 99,999,999.99 yuan. A unit price at this bound times the
# largest quantity and item count an order accepts still fits a BIGINT column many times over.
MAX_MONEY_FEN = 9_999_999_999
_MONEY_RE = re.compile(r"^(-)?([0-9]{1,8})(?:\.([0-9]{1,2}))?$")


def parse_money(text: str) -> int:
    """Parse a decimal yuan string into integer fen; refuses more than two decimals."""
    if not isinstance(text, str):
        raise ValueError("Money must be a decimal string such as \"12.34\".")
    match = _MONEY_RE.match(text.strip())
    if not match:
        raise ValueError(f"Invalid money amount {text[:40]!r}: use a decimal string with at most two decimals "
                         "and at most 99999999.99.")
    sign, yuan, cents = match.groups()
    fen = int(yuan) * 100 + int((cents or "0").ljust(2, "0"))
    return -fen if sign else fen


def format_money(fen: int) -> str:
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("Money amounts are integer fen.")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def split_bps(amount_fen: int, rate_bps: int) -> int:
    """The share of an amount at a basis-point rate, rounded down to the fen."""
    return amount_fen * rate_bps // 10_000
