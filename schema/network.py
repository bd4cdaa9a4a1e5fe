"""The distributor network: program, applications, distributors, teams, grades, bindings, share
links, regions and regional agents."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from core.crypto import decrypt_field, mask_id_card, mask_name
from core.ids import encode_global_id
from models import network as m
from schema.account import User
from schema.base import Connection, Node, UserError
from schema.scalars import BasisPoints, Money
from services.account import mask_phone

JoinMode = strawberry.enum(m.JoinMode, name="JoinMode", description="How customers become distributors.")
BindingMode = strawberry.enum(m.BindingMode, name="BindingMode",
                              description="What an arrival through a distributor's code or link does.")
DistributorStatus = strawberry.enum(m.DistributorStatus, name="DistributorStatus")
ApplicationStatus = strawberry.enum(m.ApplicationStatus, name="ApplicationStatus")
ConditionMode = strawberry.enum(m.ConditionMode, name="ConditionMode",
                                description="Whether any one condition suffices or all are needed.")
GradeChangeKind = strawberry.enum(m.GradeChangeKind, name="GradeChangeKind")
ShareKind = strawberry.enum(m.ShareKind, name="ShareKind")
RegionLevel = strawberry.enum(m.RegionLevel, name="RegionLevel")
AgentStatus = strawberry.enum(m.AgentStatus, name="AgentStatus")


def _loaders():
    from resolvers import network as loaders

    return loaders


def _owner(obj, info: strawberry.Info) -> bool:
    return obj.user_id == info.context.viewer.user_id


def _is_staff(info: strawberry.Info) -> bool:
    from auth.permissions import Permission

    return info.context.viewer.has(Permission.MANAGE_DISTRIBUTORS)


@strawberry.type
class FormField:
    key: str
    label: str
    required: bool


@strawberry.type
class FormValue:
    key: str
    value: str


@strawberry.type(description="The distributor program's configuration.")
class DistributorProgram:
    join_mode: JoinMode
    require_real_name: bool
    agreement_text: str
    agreement_version: str
    binding_mode: BindingMode
    protection_days: int | None = strawberry.field(description="Days a binding is protected; null: permanent.")
    self_purchase_commission: bool
    commission_depth: int = strawberry.field(description="Commission tiers, 1 to 3.")
    threshold_orders: int | None
    threshold_product_id: int | None
    threshold_mode: ConditionMode
    updated_at: datetime

    @strawberry.field
    def form_fields(self) -> list[FormField]:
        return [FormField(key=f["key"], label=f.get("label") or f["key"], required=bool(f.get("required")))
                for f in self.form_fields]

    @strawberry.field(description="Completed purchases a customer needs in purchase-threshold mode.")
    def threshold_sales(self) -> Money | None:
        return self.threshold_sales_fen

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Program))


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


@strawberry.type(description="A distributor. Seen by themself, their uplines, regional agents and staff.")
class Distributor(Node):
    status: DistributorStatus
    depth: int = strawberry.field(description="Depth in the whole network (0: no upline).")
    joined_at: datetime | None
    created_at: datetime

    @strawberry.field(description="The invite code; only for the distributor themself and staff.")
    def invite_code(self, info: strawberry.Info) -> str | None:
        return self.invite_code if _owner(self, info) or _is_staff(info) else None

    @strawberry.field
    async def nickname(self, info: strawberry.Info) -> str:
        user = await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(self.user_id)
        return user.nickname if user else ""

    @strawberry.field(description="The phone number; masked unless it is yours or you are staff.")
    async def phone(self, info: strawberry.Info) -> str | None:
        user = await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(self.user_id)
        if user is None:
            return None
        return user.phone if _owner(self, info) or _is_staff(info) else mask_phone(user.phone)

    @strawberry.field(description="The account; only for the distributor themself and staff.")
    async def user(self, info: strawberry.Info) -> User | None:
        if not (_owner(self, info) or _is_staff(info)):
            return None
        return await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(self.user_id)

    @strawberry.field
    async def grade(self, info: strawberry.Info) -> Grade | None:
        if self.grade_id is None:
            return None
        return await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load(self.grade_id)

    @strawberry.field
    async def region(self, info: strawberry.Info) -> Region | None:
        if self.region_id is None:
            return None
        return await info.context.loader("RegionByIdLoader", _loaders().region_by_id_loader).load(self.region_id)

    @strawberry.field(description="Everyone below this distributor, at any depth.")
    async def team_size(self, info: strawberry.Info) -> int:
        if self.path is None:
            return 0
        return await info.context.loader("TeamSizeByDistributorIdLoader", _loaders().team_size_loader).load(self.id)

    @strawberry.field(description="The direct upline; only for the distributor themself and staff.")
    async def upline(self, info: strawberry.Info) -> Distributor | None:
        if self.parent_id is None or not (_owner(self, info) or _is_staff(info)):
            return None
        return await info.context.loader("DistributorByIdLoader",
                                         _loaders().distributor_by_id_loader).load(self.parent_id)

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
        return self.real_name if _is_staff(info) else mask_name(self.real_name)

    @strawberry.field(description="The ID card number, always masked (110***********1234).")
    def id_card_number(self, info: strawberry.Info) -> str | None:
        if not self.id_card_encrypted:
            return None
        key = info.context.state.settings.field_encryption_key
        return mask_id_card(decrypt_field(key, self.id_card_encrypted, context="id_card"))

    @strawberry.field
    async def applicant(self, info: strawberry.Info) -> User | None:
        return await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(self.user_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        return await info.context.loader("DistributorByIdLoader",
                                         _loaders().distributor_by_id_loader).load(self.distributor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Application))


@strawberry.type
class GradeChange:
    kind: GradeChangeKind
    reason: str | None
    created_at: datetime

    @strawberry.field
    async def from_grade(self, info: strawberry.Info) -> Grade | None:
        if self.from_grade_id is None:
            return None
        return await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load(self.from_grade_id)

    @strawberry.field
    async def to_grade(self, info: strawberry.Info) -> Grade | None:
        if self.to_grade_id is None:
            return None
        return await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load(self.to_grade_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.GradeChange))


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
        from services import network as network_service

        return await network_service.new_member_count(info.context.session, self.root, since, until)

    @strawberry.field(description="Members down to `depth` levels below (1: direct members), nearest first.")
    async def members(self, info: strawberry.Info, depth: int = 1, first: int | None = 20, after: str | None = None,
                      joined_since: datetime | None = None) -> Connection[Distributor]:
        from services import network as network_service

        page = await network_service.team_members(info.context.session, self.root, max_depth=depth, first=first,
                                                  after=after, joined_since=joined_since)
        return Connection[Distributor].from_page(page)


@strawberry.type(description="A mini-program QR scene value or share link of a distributor.")
class ShareLink(Node):
    kind: ShareKind
    token: str = strawberry.field(description="The scene value (QR) or the link token.")
    product_id: int | None = strawberry.field(description="The shared product, if any.")
    visit_count: int
    created_at: datetime

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.ShareLink))


@strawberry.type(description="A customer's binding (锁客) to a distributor.")
class CustomerBinding:
    source: ShareKind
    bound_at: datetime
    expires_at: datetime | None = strawberry.field(description="When the protection ends; null: permanent.")

    @strawberry.field
    async def distributor_nickname(self, info: strawberry.Info) -> str:
        distributor = await info.context.loader("DistributorByIdLoader",
                                                _loaders().distributor_by_id_loader).load(self.distributor_id)
        user = await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(distributor.user_id)
        return user.nickname if user else ""

    @strawberry.field(description="The bound distributor; staff only.")
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        if not _is_staff(info):
            return None
        return await info.context.loader("DistributorByIdLoader",
                                         _loaders().distributor_by_id_loader).load(self.distributor_id)

    @strawberry.field
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("User", self.customer_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.CustomerBinding))


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
        return await info.context.loader("RegionByIdLoader", _loaders().region_by_id_loader).load(self.region_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor:
        return await info.context.loader("DistributorByIdLoader",
                                         _loaders().distributor_by_id_loader).load(self.distributor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.RegionalAgent))


# ---------------------------------------------------------------- inputs and payloads

@strawberry.input
class FormFieldInput:
    key: str
    label: str
    required: bool = False


@strawberry.input
class FormValueInput:
    key: str
    value: str


@strawberry.input(description="Only the fields given change.")
class DistributorProgramInput:
    join_mode: JoinMode | None = strawberry.UNSET
    form_fields: list[FormFieldInput] | None = strawberry.UNSET
    require_real_name: bool | None = strawberry.UNSET
    agreement_text: str | None = strawberry.UNSET
    agreement_version: str | None = strawberry.UNSET
    binding_mode: BindingMode | None = strawberry.UNSET
    protection_days: int | None = strawberry.field(default=strawberry.UNSET,
                                                   description="null: bindings never expire.")
    self_purchase_commission: bool | None = strawberry.UNSET
    commission_depth: int | None = strawberry.field(default=strawberry.UNSET, description="1, 2 or 3.")
    threshold_sales: Money | None = strawberry.UNSET
    threshold_orders: int | None = strawberry.UNSET
    threshold_product_id: int | None = strawberry.UNSET
    threshold_mode: ConditionMode | None = strawberry.UNSET


@strawberry.type
class DistributorProgramPayload:
    program: DistributorProgram | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


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


@strawberry.input
class ArriveInput:
    invite_code: str | None = None
    scene: str | None = strawberry.field(default=None, description="A mini-program QR scene value.")
    share_token: str | None = None


@strawberry.type
class ArrivePayload:
    bound: bool = strawberry.field(default=False, description="Whether you are now bound to this distributor.")
    reason: UserError | None = strawberry.field(default=None,
                                                description="Why the existing binding stands, when not bound.")
    binding: CustomerBinding | None = strawberry.field(default=None, description="Your binding after the arrival.")
    shared_product_id: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ShareLinkCreateInput:
    kind: ShareKind
    product_id: int | None = None


@strawberry.type
class ShareLinkPayload:
    share_link: ShareLink | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class BindingReleaseInput:
    customer_id: strawberry.ID
    reason: str


@strawberry.type
class BindingReleasePayload:
    released: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


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
