"""Regions: provinces, cities and districts."""

from __future__ import annotations

import strawberry

from models import network as m
from schema.base import Node
from schema.network.enums import RegionLevel


@strawberry.type(description="A province, city or district.")
class Region(Node):
    name: str
    level: RegionLevel

    @strawberry.field(description="The GB/T 2260 code.")
    def code(self) -> str:
        return str(self.id)

    @strawberry.field
    def parent_code(self) -> str | None:
        return None if self.parent_id is None else str(self.parent_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Region))
