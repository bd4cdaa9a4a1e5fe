"""The audit trail of staff-sensitive actions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from core.ids import encode_global_id
from loaders.account import UserByIdLoader
from models.audit import AuditEntry as AuditEntryModel
from schema.account import User
from schema.base import Node


@strawberry.type(description="One audited action: who did what to which object, when and why.")
class AuditEntry(Node):
    action: str
    subject_type: str
    reason: str | None
    details: JSON
    created_at: datetime

    @strawberry.field
    def subject_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id(self.subject_type, self.subject_id))

    @strawberry.field(description="The staff member who acted; null for the command line.")
    async def actor(self, info: strawberry.Info) -> User | None:
        if self.actor_id is None:
            return None
        return await UserByIdLoader(info.context).load(self.actor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, AuditEntryModel))
