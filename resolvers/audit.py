"""Reading the audit trail."""

from __future__ import annotations

import strawberry

from schema.audit import AuditEntry
from schema.base import Connection
from services import audit as audit_service


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audited actions, newest first (MANAGE_STAFF or VIEW_REPORTS).")
    async def audit_entries(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                            subject_type: str | None = None, action: str | None = None) -> Connection[AuditEntry]:
        page = await audit_service.list_entries(info.context.session, info.context.viewer, subject_type=subject_type,
                                                action=action, first=first, after=after)
        return Connection.from_page(page)
