"""Commission records, statements, settings and the settlement run."""

from __future__ import annotations

import strawberry

from models.commission import SettlementMode as SettlementModeEnum
from resolvers.base import decode_id, in_savepoint
from schema.base import Connection
from schema.commission import (
    CommissionRecord,
    CommissionSettings,
    CommissionSettingsInput,
    CommissionSettingsPayload,
    CommissionStatus,
    SettlementRunPayload,
    SettlementStatement,
)
from services import commission as commission_service


@strawberry.type
class CommissionQuery:
    @strawberry.field(description="Your commission records (MANAGE_FINANCE: everyone's), newest first.")
    async def commission_records(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                                 status: CommissionStatus | None = None,
                                 order_id: strawberry.ID | None = None) -> Connection[CommissionRecord]:
        page = await commission_service.list_records(
            info.context.session, info.context.viewer, status=status,
            order_id=decode_id(order_id, "Order", "orderId") if order_id else None, first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="Your settlement statements (MANAGE_FINANCE: everyone's).")
    async def settlement_statements(self, info: strawberry.Info, first: int | None = 20,
                                    after: str | None = None) -> Connection[SettlementStatement]:
        page = await commission_service.list_statements(info.context.session, info.context.viewer,
                                                        first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="The commission cap, after-sale window and settlement mode.")
    async def commission_settings(self, info: strawberry.Info) -> CommissionSettings:
        return await commission_service.settings_for(info.context.session, info.context.viewer)


@strawberry.type
class CommissionMutation:
    @strawberry.mutation(description="Change the commission settings (MANAGE_FINANCE). Audited.")
    async def commission_settings_update(self, info: strawberry.Info,
                                         input: CommissionSettingsInput) -> CommissionSettingsPayload:
        changes = {
            "cap_bps": input.cap, "after_sale_days": input.after_sale_days,
            "settlement_mode": SettlementModeEnum(input.settlement_mode.value) if input.settlement_mode else None,
            "unpaid_expiry_minutes": input.unpaid_expiry_minutes, "auto_complete_days": input.auto_complete_days,
            "region_commission": input.region_commission,
        }
        settings, errors = await in_savepoint(info, lambda s: commission_service.update_settings(
            s, info.context.viewer, changes))
        return CommissionSettingsPayload(settings=settings, user_errors=errors)

    @strawberry.mutation(description="Run the periodic settlement for a month (YYYY-MM): settles every record whose "
                                     "after-sale window has closed and writes a statement per beneficiary "
                                     "(MANAGE_FINANCE). Running it again settles nothing twice.")
    async def settlement_run(self, info: strawberry.Info, period: str) -> SettlementRunPayload:
        result, errors = await in_savepoint(info, lambda s: commission_service.run_periodic_settlement(
            s, info.context.viewer, period=period))
        if result is None:
            return SettlementRunPayload(user_errors=errors)
        settled, statements = result
        return SettlementRunPayload(settled_records=settled, statements=statements)
