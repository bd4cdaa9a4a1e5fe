"""Grades, the grade history, and the inputs that change them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from loaders.network import GradeByIdLoader
from models import network as m
from schema.base import Node, UserError
from schema.network.enums import ConditionMode, GradeChangeKind
from schema.scalars import BasisPoints, Money


@strawberry.type(description="A distributor grade, ordered by level.")
class Grade(Node):
    name: str
    level: int
    tier1_rate: BasisPoints = strawberry.field(resolver=lambda root: root.tier1_rate_bps)
    tier2_rate: BasisPoints = strawberry.field(resolver=lambda root: root.tier2_rate_bps)
    tier3_rate: BasisPoints = strawberry.field(resolver=lambda root: root.tier3_rate_bps)
    discount: BasisPoints = strawberry.field(resolver=lambda root: root.discount_bps,
                                             description="Purchase discount.")
    condition_mode: ConditionMode
    min_personal_orders: int | None
    min_team_orders: int | None
    min_direct_members: int | None
    min_team_size: int | None
    is_partner: bool = strawberry.field(description="Partner (合伙人): earns a team bonus on the subtree's sales.")
    team_bonus_rate: BasisPoints = strawberry.field(resolver=lambda root: root.team_bonus_bps)

    @strawberry.field
    def min_personal_sales(self) -> Money | None:
        return self.min_personal_sales_fen

    @strawberry.field
    def min_team_sales(self) -> Money | None:
        return self.min_team_sales_fen

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Grade))


@strawberry.type
class GradeChange:
    kind: GradeChangeKind
    reason: str | None
    created_at: datetime

    @strawberry.field
    async def from_grade(self, info: strawberry.Info) -> Grade | None:
        if self.from_grade_id is None:
            return None
        return await GradeByIdLoader(info.context).load(self.from_grade_id)

    @strawberry.field
    async def to_grade(self, info: strawberry.Info) -> Grade | None:
        if self.to_grade_id is None:
            return None
        return await GradeByIdLoader(info.context).load(self.to_grade_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.GradeChange))


@strawberry.input
class GradeInput:
    name: str | None = strawberry.UNSET
    level: int | None = strawberry.UNSET
    tier1_rate: BasisPoints | None = strawberry.UNSET
    tier2_rate: BasisPoints | None = strawberry.UNSET
    tier3_rate: BasisPoints | None = strawberry.UNSET
    discount: BasisPoints | None = strawberry.UNSET
    condition_mode: ConditionMode | None = strawberry.UNSET
    min_personal_sales: Money | None = strawberry.UNSET
    min_personal_orders: int | None = strawberry.UNSET
    min_team_sales: Money | None = strawberry.UNSET
    min_team_orders: int | None = strawberry.UNSET
    min_direct_members: int | None = strawberry.UNSET
    min_team_size: int | None = strawberry.UNSET
    is_partner: bool | None = strawberry.UNSET
    team_bonus_rate: BasisPoints | None = strawberry.UNSET


@strawberry.type
class GradePayload:
    grade: Grade | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DistributorGradeInput:
    distributor_id: strawberry.ID
    grade_id: strawberry.ID
    reason: str
