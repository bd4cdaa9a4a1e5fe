"""The transactional outbox: every change clients watch live appends one row here in the same
transaction as the change; the relay (realtime/relay.py) publishes committed rows in id order.

The id is the event's cursor. `published_at` is set once the relay has handed the event to the
broker; the rows stay afterwards so a subscriber can resume from a cursor (`after:`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime


class OutboxEvent(IdMixin, TimestampMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_published", "published_at", "id"),
        # SQLite: never reuse an id (a cursor must never point at two events).
        {"sqlite_autoincrement": True},
    )

    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(40), nullable=False)
    subject_id: Mapped[int] = mapped_column(BigId, nullable=False)
    # The users who may see this event on their own subscriptions.
    audience_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    # The permission a staff member needs to see it on the back-office feed (None: no staff feed).
    staff_permission: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
