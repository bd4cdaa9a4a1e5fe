"""Distributors, their applications and teams, and the inputs that change them. What a viewer
sees of each is decided in `services.network.access`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from loaders.account import UserByIdLoader
from loaders.network import DistributorByIdLoader, GradeByIdLoader, RegionByIdLoader, TeamSizeByDistributorIdLoader
from models import network as m
from schema.account import User
from schema.base import Connection, Node, UserError
from schema.network.enums import ApplicationStatus, DistributorStatus, JoinMode
from schema.network.grade import Grade
from schema.network.region import Region
from schema.scalars import Money
from services.network import access as network_access
from services.network import team as team_service


@strawberry.type
class FormValue:
    key: str
    value: str


@strawberry.type(description="A distributor. Seen by themself, their uplines, regional agents and staff.")
class Distributor(Node):
    status: DistributorStatus
    depth: int = strawberry.field(description="Depth in the whole network (0: no upline).")
    joined_at: datetime | None
    created_at: datetime

    @strawberry.field(description="The invite code; only for the distributor themself and staff.")
    def invite_code(self, info: strawberry.Info) -> str | None:
        return self.invite_code if network_access.sees_private_fields(info.context.viewer, self) else None

    @strawberry.field
    async def nickname(self, info: strawberry.Info) -> str:
        user = await UserByIdLoader(info.context).load(self.user_id)
        return user.nickname if user else ""

    @strawberry.field(description="The phone number; masked unless it is yours or you are staff.")
    async def phone(self, info: strawberry.Info) -> str | None:
        user = await UserByIdLoader(info.context).load(self.user_id)
        if user is None:
            return None
        return network_access.distributor_phone(info.context.viewer, self, user.phone)

    @strawberry.field(description="The account; only for the distributor themself and staff.")
    async def user(self, info: strawberry.Info) -> User | None:
        if not network_access.sees_private_fields(info.context.viewer, self):
            return None
        return await UserByIdLoader(info.context).load(self.user_id)

    @strawberry.field
    async def grade(self, info: strawberry.Info) -> Grade | None:
        if self.grade_id is None:
            return None
        return await GradeByIdLoader(info.context).load(self.grade_id)

    @strawberry.field
    async def region(self, info: strawberry.Info) -> Region | None:
        if self.region_id is None:
            return None
        return await RegionByIdLoader(info.context).load(self.region_id)

    @strawberry.field(description="Everyone below this distributor, at any depth.")
    async def team_size(self, info: strawberry.Info) -> int:
        if self.path is None:
            return 0
        return await TeamSizeByDistributorIdLoader(info.context).load(self.id)

    @strawberry.field(description="The direct upline; only for the distributor themself and staff.")
    async def upline(self, info: strawberry.Info) -> Distributor | None:
        if self.parent_id is None or not network_access.sees_private_fields(info.context.viewer, self):
            return None
        return await DistributorByIdLoader(info.context).load(self.parent_id)

    @strawberry.field(description="Completed sales this distributor brought in.")
    def personal_sales(self) -> Money:
        return self.personal_sales_fen

    personal_order_count: int

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Distributor))


@strawberry.type(description="An application to become a distributor.")
class DistributorApplication(Node):
    status: ApplicationStatus
    join_mode: JoinMode
    agreement_version: str
    reject_reason: str | None
    created_at: datetime
    reviewed_at: datetime | None

    @strawberry.field
    def form_data(self) -> list[FormValue]:
        return [FormValue(key=k, value=v) for k, v in sorted(self.form_data.items())]

    @strawberry.field(description="The real name; masked (张**) for anyone but staff.")
    def real_name(self, info: strawberry.Info) -> str | None:
        return network_access.application_real_name(info.context.viewer, self)

    @strawberry.field(description="The ID card number, always masked (110***********1234).")
    def id_card_number(self, info: strawberry.Info) -> str | None:
        return network_access.application_id_card(info.context.state.settings.field_encryption_key, self)

    @strawberry.field
    async def applicant(self, info: strawberry.Info) -> User | None:
        return await UserByIdLoader(info.context).load(self.user_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        return await DistributorByIdLoader(info.context).load(self.distributor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Application))


@strawberry.type
class DepthCount:
    depth: int = strawberry.field(description="1: direct members, 2: their members, ...")
    count: int


@strawberry.type(description="A distributor's team: everyone below them in the tree.")
class Team:
    root: strawberry.Private[m.Distributor]
    counts: strawberry.Private[list]

    @strawberry.field
    def distributor(self) -> Distributor:
        return self.root

    @strawberry.field(description="Everyone below, at any depth.")
    def size(self) -> int:
        return sum(c.count for c in self.counts)

    @strawberry.field
    def direct_count(self) -> int:
        return next((c.count for c in self.counts if c.depth == 1), 0)

    @strawberry.field(description="Members per depth below the distributor.")
    def depth_counts(self) -> list[DepthCount]:
        return [DepthCount(depth=c.depth, count=c.count) for c in self.counts]

    @strawberry.field(description="Members who joined in [since, until).")
    async def new_members(self, info: strawberry.Info, since: datetime | None = None,
                          until: datetime | None = None) -> int:
        return await team_service.new_member_count(info.context.session, self.root, since, until)

    @strawberry.field(description="Members down to `depth` levels below (1: direct members), nearest first.")
    async def members(self, info: strawberry.Info, depth: int = 1, first: int | None = 20, after: str | None = None,
                      joined_since: datetime | None = None) -> Connection[Distributor]:
        page = await team_service.team_members(info.context.session, self.root, max_depth=depth, first=first,
                                               after=after, joined_since=joined_since)
        return Connection[Distributor].from_page(page)


# ---------------------------------------------------------------- inputs and payloads

@strawberry.input
class FormValueInput:
    key: str
    value: str


@strawberry.input
class DistributorApplyInput:
    agreement_version: str = strawberry.field(description="The agreement version the customer accepted.")
    form_data: list[FormValueInput] = strawberry.field(default_factory=list)
    real_name: str | None = None
    id_card_number: str | None = None
    invite_code: str | None = None
    region_code: str | None = strawberry.field(default=None, description="Where the distributor is registered.")


@strawberry.type
class DistributorApplicationPayload:
    application: DistributorApplication | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DistributorApplicationReviewInput:
    application_id: strawberry.ID
    approve: bool
    reason: str | None = strawberry.field(default=None, description="Required when rejecting.")


@strawberry.input
class DistributorStatusInput:
    distributor_id: strawberry.ID
    status: DistributorStatus
    reason: str


@strawberry.type
class DistributorPayload:
    distributor: Distributor | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DistributorMoveInput:
    distributor_id: strawberry.ID
    new_upline_id: strawberry.ID | None = strawberry.field(default=None, description="null: move to the top.")
    reason: str
