"""Share links, customer bindings (锁客), arrivals, and the inputs that change them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_global_id
from loaders.account import UserByIdLoader
from loaders.network import DistributorByIdLoader
from models import network as m
from schema.base import Node, UserError
from schema.network.distributor import Distributor
from schema.network.enums import ShareKind
from services.network import access as network_access


def _product_id(root) -> strawberry.ID | None:
    return None if root.product_id is None else strawberry.ID(encode_global_id("Product", root.product_id))


@strawberry.type(description="A mini-program QR scene value or share link of a distributor.")
class ShareLink(Node):
    kind: ShareKind
    token: str = strawberry.field(description="The scene value (QR) or the link token.")
    product_id: strawberry.ID | None = strawberry.field(resolver=_product_id, description="The shared product, if any.")
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
        distributor = await DistributorByIdLoader(info.context).load(self.distributor_id)
        user = await UserByIdLoader(info.context).load(distributor.user_id)
        return user.nickname if user else ""

    @strawberry.field(description="The bound distributor; staff only.")
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        if not network_access.sees_bound_distributor(info.context.viewer):
            return None
        return await DistributorByIdLoader(info.context).load(self.distributor_id)

    @strawberry.field
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("User", self.customer_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.CustomerBinding))


# ---------------------------------------------------------------- inputs and payloads

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
    shared_product_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ShareLinkCreateInput:
    kind: ShareKind
    product_id: strawberry.ID | None = None


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
