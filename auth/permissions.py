"""Staff permissions and the client kinds a request can come from."""

from __future__ import annotations

import enum


class Permission(enum.Enum):
    MANAGE_DISTRIBUTORS = "MANAGE_DISTRIBUTORS"
    MANAGE_CATALOG = "MANAGE_CATALOG"
    MANAGE_ORDERS = "MANAGE_ORDERS"
    MANAGE_FINANCE = "MANAGE_FINANCE"
    MANAGE_MARKETING = "MANAGE_MARKETING"
    VIEW_REPORTS = "VIEW_REPORTS"
    MANAGE_STAFF = "MANAGE_STAFF"


class ClientKind(enum.Enum):
    MINI_PROGRAM = "MINI_PROGRAM"
    APP = "APP"
    H5 = "H5"
    PC = "PC"

    @classmethod
    def parse(cls, value: str | None) -> ClientKind | None:
        if not value:
            return None
        try:
            return cls(value.strip().upper())
        except ValueError:
            return None
