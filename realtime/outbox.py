"""The transactional outbox: services call `emit` inside their transaction; the relay publishes.

Ordering on PostgreSQL. Ids come from a sequence, so with concurrent transactions id 7 can
commit before id 6. A relay that published 7 and moved on would lose 6 (or a resuming
subscriber at cursor 7 would never see it). So every emitting transaction holds the shared
transaction-level advisory lock EMIT_LOCK_KEY from its first `emit` until it ends, and the relay
takes the same lock exclusively for one `SELECT max(id)`: at that instant no emitter is in
flight, so every id up to that watermark is final (committed or never will be), and the relay
publishes only up to it. Emitters never wait for each other (shared locks do not conflict);
the relay waits at most a short lock_timeout and retries. On SQLite writers are serialised by
the database, so every committed id is already final.

Nothing here imports strawberry: this module is for services.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from auth.permissions import Permission
from core.errors import ErrorCode, ServiceError
from models.outbox import OutboxEvent

log = logging.getLogger("fenxiao.realtime")

# Advisory lock keys (PostgreSQL): emitters share EMIT_LOCK_KEY; one relay at a time holds
# RELAY_LOCK_KEY.
EMIT_LOCK_KEY = 0x6678_0001
RELAY_LOCK_KEY = 0x6678_0002

ORDER_UPDATED = "order.updated"
COMMISSION_UPDATED = "commission.updated"
WALLET_UPDATED = "wallet.updated"
WITHDRAWAL_UPDATED = "withdrawal.updated"
APPLICATION_UPDATED = "application.updated"

# Every event type and the permission a staff member needs to see it on the back-office feed.
EVENT_TYPES: dict[str, Permission] = {
    ORDER_UPDATED: Permission.MANAGE_ORDERS,
    COMMISSION_UPDATED: Permission.MANAGE_FINANCE,
    WALLET_UPDATED: Permission.MANAGE_FINANCE,
    WITHDRAWAL_UPDATED: Permission.MANAGE_FINANCE,
    APPLICATION_UPDATED: Permission.MANAGE_DISTRIBUTORS,
}


def register_event_type(event_type: str, staff_permission: Permission) -> None:
    """Add an event type (a domain module calls this at import time)."""
    EVENT_TYPES[event_type] = staff_permission


@dataclass(frozen=True)
class LiveEvent:
    """One committed outbox event, as the relay publishes it and subscribers receive it."""

    id: int
    event_type: str
    subject_type: str
    subject_id: int
    audience_user_ids: frozenset[int]
    staff_permission: str | None
    payload: dict
    created_at: datetime

    @property
    def cursor(self) -> str:
        return encode_event_cursor(self.id)

    @classmethod
    def from_row(cls, row: OutboxEvent) -> LiveEvent:
        return cls(id=row.id, event_type=row.event_type, subject_type=row.subject_type,
                   subject_id=row.subject_id, audience_user_ids=frozenset(row.audience_user_ids or ()),
                   staff_permission=row.staff_permission, payload=dict(row.payload or {}),
                   created_at=row.created_at)

    def to_message(self, prev: int | None) -> str:
        """The broker message; `prev` is the id the relay published just before this one, so a
        receiver can tell that it missed something and read it from the table."""
        return json.dumps({
            "id": self.id, "prev": prev, "type": self.event_type, "subjectType": self.subject_type,
            "subjectId": self.subject_id, "audience": sorted(self.audience_user_ids),
            "permission": self.staff_permission, "payload": self.payload,
            "at": self.created_at.astimezone(UTC).isoformat(),
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_message(cls, message: str) -> tuple[LiveEvent, int | None]:
        data = json.loads(message)
        event = cls(id=int(data["id"]), event_type=data["type"], subject_type=data["subjectType"],
                    subject_id=int(data["subjectId"]), audience_user_ids=frozenset(data["audience"]),
                    staff_permission=data["permission"], payload=data["payload"],
                    created_at=datetime.fromisoformat(data["at"]))
        prev = data.get("prev")
        return event, (int(prev) if prev is not None else None)


def encode_event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"ev:{event_id}".encode()).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ServiceError(ErrorCode.INVALID, "The cursor is not valid.", "after") from exc
    prefix, _, number = raw.partition(":")
    if prefix != "ev" or not number.isdigit():
        raise ServiceError(ErrorCode.INVALID, "The cursor is not valid.", "after")
    return int(number)


async def emit(session: AsyncSession, *, event_type: str, subject_type: str, subject_id: int,
               audience_user_ids: Iterable[int], payload: dict | None = None,
               staff_permission: Permission | str | None = None) -> OutboxEvent:
    """Append an event to the outbox in the caller's transaction (flushes, never commits).

    `subject_type` is the GraphQL type name of the changed object ("Order"), `audience_user_ids`
    the users who may see it live (buyer, attributed distributor and uplines, beneficiary...),
    `payload` a small JSON summary of what changed (money as integer fen). `staff_permission`
    defaults to the event type's registered permission.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; register it with register_event_type")
    permission = staff_permission if staff_permission is not None else EVENT_TYPES[event_type]
    if isinstance(permission, Permission):
        permission = permission.value
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": EMIT_LOCK_KEY})
    row = OutboxEvent(event_type=event_type, subject_type=subject_type, subject_id=subject_id,
                      audience_user_ids=sorted({int(u) for u in audience_user_ids}),
                      staff_permission=permission, payload=payload or {})
    session.add(row)
    await session.flush()
    session.info[_PENDING_KEY] = True
    return row


# ------------------------------------------------------------- commit hint for the relay

_PENDING_KEY = "outbox_emitted"
_commit_listeners: list[Callable[[], None]] = []


def add_commit_listener(callback: Callable[[], None]) -> None:
    """Call `callback` after any session commits a transaction that emitted (the relay wakes)."""
    _commit_listeners.append(callback)


def remove_commit_listener(callback: Callable[[], None]) -> None:
    if callback in _commit_listeners:
        _commit_listeners.remove(callback)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        for callback in list(_commit_listeners):
            callback()


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)


# ------------------------------------------------------------- reading the table


async def last_published_id(session: AsyncSession) -> int:
    """The newest published event's id (0 when none): everything at or below it is final."""
    value = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.published_at.is_not(None))
                                 .order_by(OutboxEvent.id.desc()).limit(1))
    return int(value or 0)


async def events_in_range(session: AsyncSession, after_id: int, before_id: int | None, *,
                          limit: int, event_types: Iterable[str] | None = None,
                          published_only: bool = False) -> list[LiveEvent]:
    """Events with after_id < id (< before_id), in id order."""
    query = select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id).limit(limit)
    if before_id is not None:
        query = query.where(OutboxEvent.id < before_id)
    if event_types is not None:
        query = query.where(OutboxEvent.event_type.in_(list(event_types)))
    if published_only:
        query = query.where(OutboxEvent.published_at.is_not(None))
    return [LiveEvent.from_row(row) for row in (await session.scalars(query)).all()]


async def newest_event_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(OutboxEvent.id))) or 0)
