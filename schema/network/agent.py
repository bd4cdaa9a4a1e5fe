"""Regional agents (区域代理) and the inputs that change them."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from loaders.network import DistributorByIdLoader, RegionByIdLoader
from models import network as m
from schema.base import Node, UserError
from schema.network.distributor import Distributor
from schema.network.enums import AgentStatus
from schema.network.region import Region
from schema.scalars import BasisPoints


@strawberry.type(description="A distributor's term (or application) as a regional agent (区域代理).")
class RegionalAgent(Node):
    status: AgentStatus
    rate: BasisPoints = strawberry.field(resolver=lambda root: root.rate_bps,
                                         description="The region commission rate.")
    starts_on: date | None
    ends_on: date | None
    note: str | None
    created_at: datetime

    @strawberry.field
    async def region(self, info: strawberry.Info) -> Region:
        return await RegionByIdLoader(info.context).load(self.region_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor:
        return await DistributorByIdLoader(info.context).load(self.distributor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.RegionalAgent))


@strawberry.input
class RegionalAgentApplyInput:
    region_code: str
    note: str | None = None


@strawberry.input
class RegionalAgentReviewInput:
    agent_id: strawberry.ID
    approve: bool
    rate: BasisPoints | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    reason: str | None = None


@strawberry.input
class RegionalAgentEndInput:
    agent_id: strawberry.ID
    reason: str


@strawberry.type
class RegionalAgentPayload:
    agent: RegionalAgent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
