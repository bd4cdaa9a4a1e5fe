"""Recording audited actions and reading the audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from core.errors import PermissionDenied
from core.pagination import SortKey, paginate
from models.audit import AuditEntry


async def record(session: AsyncSession, *, actor_id: int | None, action: str, subject_type: str,
                 subject_id: int, reason: str | None = None, details: dict | None = None) -> AuditEntry:
    entry = AuditEntry(actor_id=actor_id, action=action, subject_type=subject_type,
                       subject_id=subject_id, reason=reason, details=details or {})
    session.add(entry)
    await session.flush()
    return entry


async def list_entries(session: AsyncSession, viewer, *, subject_type: str | None, action: str | None,
                       first: int | None, after: str | None):
    """The audit trail, newest first, for staff who manage staff or read reports."""
    viewer.require_user()
    if not (viewer.has(Permission.MANAGE_STAFF) or viewer.has(Permission.VIEW_REPORTS)):
        raise PermissionDenied("The audit log needs MANAGE_STAFF or VIEW_REPORTS.")
    stmt = select(AuditEntry)
    if subject_type:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return await paginate(session, stmt, [SortKey(AuditEntry.id, descending=True)], first=first, after=after)
