"""Binding customers to distributors (锁客/防跳码): invite codes, mini-program QR scenes and share
links, their visits, the program's binding mode, expiry and staff release."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.account import User
from models.base import utcnow
from models.catalog import Product
from models.network import (
    BindingMode,
    CustomerBinding,
    CustomerStats,
    Distributor,
    DistributorStatus,
    ShareKind,
    ShareLink,
    Visit,
)
from services import audit
from services.network.customers import active_binding
from services.network.program import get_program
from services.network.tree import attach_under, check_no_cycle, distributor_for_user, require_own_distributor

# In NEW_USERS_ONLY mode a customer counts as new for this long after registering, and only
# while they have never been bound and have no completed order.
NEW_USER_WINDOW = timedelta(days=1)


@dataclass
class Arrival:
    """What an arrival did: `bound` says whether the customer is now bound to this distributor;
    otherwise `code` and `message` say why the existing state stands."""

    distributor: Distributor
    binding: CustomerBinding | None
    bound: bool
    code: ErrorCode | None = None
    message: str | None = None
    share_link: ShareLink | None = None


async def create_share_link(session: AsyncSession, viewer: Viewer, *, kind: ShareKind,
                            product_id: int | None) -> ShareLink:
    distributor = await require_own_distributor(session, viewer, active=True)
    if kind == ShareKind.INVITE_CODE:
        raise ServiceError(ErrorCode.INVALID, "Your invite code already exists; create a QR scene or share link.",
                           "kind")
    if product_id is not None and await session.get(Product, product_id) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No product has this id.", "productId")
    # A mini-program scene value is at most 32 visible characters.
    token = ("q" if kind == ShareKind.QR_SCENE else "s") + secrets.token_urlsafe(15)
    link = ShareLink(distributor_id=distributor.id, kind=kind, token=token, product_id=product_id, visit_count=0)
    session.add(link)
    await session.flush()
    return link


async def visible_share_link(session: AsyncSession, viewer: Viewer, link_id: int) -> ShareLink | None:
    """A share link as a node: to its distributor and to staff."""
    if viewer.user_id is None:
        return None
    link = await session.get(ShareLink, link_id)
    if link is None:
        return None
    if viewer.has(Permission.MANAGE_DISTRIBUTORS):
        return link
    owner = await session.get(Distributor, link.distributor_id)
    return link if owner is not None and owner.user_id == viewer.user_id else None


async def my_share_links(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    distributor = await require_own_distributor(session, viewer)
    stmt = select(ShareLink).where(ShareLink.distributor_id == distributor.id)
    return await paginate(session, stmt, [SortKey(ShareLink.id, descending=True)], first=first, after=after)


async def _source(session: AsyncSession, *, invite_code: str | None, scene: str | None, share_token: str | None
                  ) -> tuple[Distributor, ShareKind, ShareLink | None]:
    given = [v for v in (invite_code, scene, share_token) if v]
    if len(given) != 1:
        raise ServiceError(ErrorCode.INVALID, "Give exactly one of inviteCode, scene or shareToken.")
    if invite_code:
        distributor = await session.scalar(select(Distributor).where(
            Distributor.invite_code == invite_code.strip().upper()))
        if distributor is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "This invite code is not valid.", "inviteCode")
        return distributor, ShareKind.INVITE_CODE, None
    kind, field = (ShareKind.QR_SCENE, "scene") if scene else (ShareKind.SHARE_LINK, "shareToken")
    link = await session.scalar(select(ShareLink).where(ShareLink.token == (scene or share_token).strip(),
                                                        ShareLink.kind == kind))
    if link is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "This link is not valid.", field)
    return await session.get(Distributor, link.distributor_id), kind, link


async def _is_new_user(session: AsyncSession, customer_id: int, binding: CustomerBinding | None,
                       now: datetime) -> bool:
    if binding is not None:
        return False
    created = await session.scalar(select(User.created_at).where(User.id == customer_id))
    if created is None or now - created > NEW_USER_WINDOW:
        return False
    orders = await session.scalar(select(CustomerStats.completed_orders).where(CustomerStats.user_id == customer_id))
    return not orders


async def arrive(session: AsyncSession, viewer: Viewer, *, invite_code: str | None = None,
                 scene: str | None = None, share_token: str | None = None) -> Arrival:
    """Record an arrival through a distributor's code or link, and bind the signed-in customer to
    that distributor when the program's binding mode allows."""
    now = utcnow()
    distributor, kind, link = await _source(session, invite_code=invite_code, scene=scene, share_token=share_token)
    customer_id = viewer.user_id

    async def visit(outcome: str, arrival: Arrival) -> Arrival:
        session.add(Visit(distributor_id=distributor.id, kind=kind, share_link_id=link.id if link else None,
                          visitor_id=customer_id, outcome=outcome))
        if link is not None:
            await session.execute(update(ShareLink).where(ShareLink.id == link.id)
                                  .values(visit_count=ShareLink.visit_count + 1)
                                  .execution_options(synchronize_session=False))
        await session.flush()
        if link is not None:
            await session.refresh(link)
        arrival.share_link = link
        return arrival

    if customer_id is None:
        return await visit("ANONYMOUS", Arrival(distributor, None, False, ErrorCode.NOT_AUTHENTICATED,
                                                "Sign in to be bound to this distributor."))
    if distributor.user_id == customer_id:
        raise ServiceError(ErrorCode.SELF_BINDING, "You cannot bind to yourself.")
    # Lock the customer: two first arrivals at the same moment are decided one after the other
    # (the second sees the first's binding) instead of racing for the unique binding row.
    await session.execute(select(User.id).where(User.id == customer_id).with_for_update())
    own = await distributor_for_user(session, customer_id, lock=True)
    if own is not None and own.path:
        check_no_cycle(own, distributor, None)
    binding = await session.scalar(select(CustomerBinding).where(CustomerBinding.customer_id == customer_id)
                                   .with_for_update())
    current = binding if binding is not None and binding.released_at is None and (
        binding.expires_at is None or binding.expires_at > now) else None
    if distributor.status != DistributorStatus.ACTIVE:
        return await visit("INACTIVE", Arrival(distributor, current, False, ErrorCode.DISTRIBUTOR_INACTIVE,
                                               "This distributor is not active; your binding is unchanged."))
    if own is not None and own.path and own.parent_id is not None:
        return await visit("HAS_UPLINE", Arrival(distributor, current, False, ErrorCode.HAS_UPLINE,
                                                 "You are a distributor with an upline already; only staff can "
                                                 "move you."))
    if current is not None and current.distributor_id == distributor.id:
        return await visit("ALREADY_BOUND", Arrival(distributor, current, True))
    program = await get_program(session)
    mode = program.binding_mode
    if mode == BindingMode.FIRST_TOUCH and current is not None:
        until = "permanently" if current.expires_at is None else "until " + current.expires_at.strftime(
            "%Y-%m-%d %H:%M UTC")
        return await visit("PROTECTED", Arrival(distributor, current, False, ErrorCode.CUSTOMER_PROTECTED,
                                                f"You are bound to another distributor {until}; the existing "
                                                "binding stands."))
    if mode == BindingMode.NEW_USERS_ONLY and not await _is_new_user(session, customer_id, binding, now):
        return await visit("NOT_NEW_USER", Arrival(distributor, current, False, ErrorCode.NOT_NEW_USER,
                                                   "Only new customers are bound, at registration; the existing "
                                                   "state stands."))
    expires_at = None if program.protection_days is None else now + timedelta(days=program.protection_days)
    if binding is None:
        binding = CustomerBinding(customer_id=customer_id)
        session.add(binding)
    binding.distributor_id = distributor.id
    binding.source = kind
    binding.share_link_id = link.id if link else None
    binding.bound_at = now
    binding.expires_at = expires_at
    binding.released_at = None
    binding.release_reason = None
    await session.flush()
    if own is not None and own.path and own.parent_id is None:
        # A top-level distributor arriving through a link gains that distributor as upline.
        await attach_under(session, own, distributor)
    return await visit("BOUND", Arrival(distributor, binding, True))


async def release_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """The scheduled job: release bindings whose protection period has ended."""
    now = now or utcnow()
    result = await session.execute(
        update(CustomerBinding)
        .where(CustomerBinding.released_at.is_(None), CustomerBinding.expires_at.is_not(None),
               CustomerBinding.expires_at <= now)
        .values(released_at=now, release_reason="EXPIRED")
        .execution_options(synchronize_session=False))
    return result.rowcount


async def release(session: AsyncSession, viewer: Viewer, *, customer_id: int, reason: str) -> CustomerBinding:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    if not (reason or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the binding is released.", "reason")
    binding = await active_binding(session, customer_id)
    if binding is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "This customer is not bound.", "customerId")
    binding.released_at = utcnow()
    binding.release_reason = "STAFF"
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="binding.release", subject_type="User",
                       subject_id=customer_id, reason=reason.strip(),
                       details={"distributor_id": binding.distributor_id})
    return binding


async def binding_for(session: AsyncSession, viewer: Viewer, customer_id: int | None) -> CustomerBinding | None:
    """The customer's current binding: their own, or anyone's for staff."""
    user_id = viewer.require_user()
    if customer_id is not None and customer_id != user_id:
        viewer.require(Permission.MANAGE_DISTRIBUTORS)
    return await active_binding(session, customer_id or user_id)

