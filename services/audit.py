"""Recording audited actions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import AuditEntry


async def record(session: AsyncSession, *, actor_id: int | None, action: str, subject_type: str,
                 subject_id: int, reason: str | None = None, details: dict | None = None) -> AuditEntry:
    entry = AuditEntry(actor_id=actor_id, action=action, subject_type=subject_type,
                       subject_id=subject_id, reason=reason, details=details or {})
    session.add(entry)
    await session.flush()
    return entry
