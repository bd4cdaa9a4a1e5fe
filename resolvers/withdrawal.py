"""Payout accounts, withdrawal requests and review, settings, reconciliation; and the payout
provider's callback endpoint (in server/callbacks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.base import decode_id, in_savepoint
from schema.base import Connection
from schema.withdrawal import (
    PayoutAccount,
    PayoutAccountAddInput,
    PayoutAccountPayload,
    Withdrawal,
    WithdrawalApproveInput,
    WithdrawalFilter,
    WithdrawalOverview,
    WithdrawalPayload,
    WithdrawalReconciliation,
    WithdrawalRejectInput,
    WithdrawalRequestInput,
    WithdrawalSettingsInput,
    WithdrawalSettingsPayload,
    WithdrawalSettingsType,
    WithdrawalStatus,
)
from services.withdrawal import accounts, export, listing, payout, reconciliation, requests, rules

# API field of WithdrawalSettingsInput -> the settings column it changes.
SETTINGS_FIELDS = {
    "min_amount": "min_amount_fen", "fee_rate": "fee_bps", "fee_minimum": "fee_min_fen",
    "daily_count_limit": "daily_count_limit", "daily_amount_limit": "daily_amount_limit_fen",
    "auto_approve_below": "auto_approve_below_fen", "bank_card_hours": "bank_card_hours",
    "bank_card_peak_hours": "bank_card_peak_hours", "wechat_hours": "wechat_hours", "alipay_hours": "alipay_hours",
    "peak_starts_at": "peak_starts_at", "peak_ends_at": "peak_ends_at",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _filter(flt: WithdrawalFilter | None) -> listing.WithdrawalFilter:
    if flt is None:
        return listing.WithdrawalFilter()
    return listing.WithdrawalFilter(
        status=flt.status, method=flt.method,
        user_id=decode_id(flt.user_id, "User", "filter.userId") if flt.user_id else None,
        created_from=flt.created_from, created_before=flt.created_before)


@strawberry.type
class WithdrawalQuery:
    @strawberry.field(description="Your payout accounts, the default first.")
    async def my_payout_accounts(self, info: strawberry.Info) -> list[PayoutAccount]:
        return await accounts.my_accounts(info.context.session, info.context.viewer)

    @strawberry.field(description="Your withdrawals, newest first.")
    async def my_withdrawals(self, info: strawberry.Info, status: WithdrawalStatus | None = None,
                             first: int | None = 20, after: str | None = None) -> Connection[Withdrawal]:
        page = await listing.my_withdrawals(info.context.session, info.context.viewer, status=status,
                                            first=first, after=after)
        return Connection[Withdrawal].from_page(page)

    @strawberry.field(description="Your balances, today's use of the limits and the rules (signed in).")
    async def my_withdrawal_overview(self, info: strawberry.Info) -> WithdrawalOverview:
        return await requests.overview(info.context.session, info.context.viewer)

    @strawberry.field(description="The withdrawal rules; anyone signed in may read them.")
    async def withdrawal_settings(self, info: strawberry.Info) -> WithdrawalSettingsType:
        return await rules.settings_for(info.context.session, info.context.viewer)

    @strawberry.field(description="Every withdrawal, newest first (MANAGE_FINANCE; VIEW_REPORTS sees numbers masked).")
    async def withdrawals(self, info: strawberry.Info, filter: WithdrawalFilter | None = None,
                          first: int | None = 20, after: str | None = None) -> Connection[Withdrawal]:
        page = await listing.list_withdrawals(info.context.session, info.context.viewer, _filter(filter),
                                              first=first, after=after)
        return Connection[Withdrawal].from_page(page)

    @strawberry.field(description="Requested, paid, failed, fees and mismatches for [from, to) (MANAGE_FINANCE).")
    async def withdrawal_reconciliation(self, info: strawberry.Info,
                                        from_: Annotated[datetime, strawberry.argument(name="from")],
                                        to: datetime) -> WithdrawalReconciliation:
        return await reconciliation.reconcile(info.context.session, info.context.viewer, start=from_, end=to)

    @strawberry.field(description="The withdrawals requested in [from, to) as CSV text (MANAGE_FINANCE).")
    async def withdrawals_csv(self, info: strawberry.Info,
                              from_: Annotated[datetime, strawberry.argument(name="from")],
                              to: datetime,
                              status: WithdrawalStatus | None = None) -> str:
        return await export.export_csv(info.context.session, info.context.viewer, start=from_, end=to,
                                        status=status)


@strawberry.type
class WithdrawalMutation:
    @strawberry.mutation(description="Add a payout account in your verified real name.")
    async def payout_account_add(self, info: strawberry.Info, input: PayoutAccountAddInput) -> PayoutAccountPayload:
        ctx = info.context
        account, errors = await in_savepoint(info, lambda s: accounts.add_account(
            s, ctx.viewer, ctx.state.settings, method=input.method, holder_name=input.holder_name,
            account_number=input.account_number, bank_name=input.bank_name, branch_name=input.branch_name,
            make_default=input.make_default))
        return PayoutAccountPayload(payout_account=account, user_errors=errors)

    @strawberry.mutation(description="Make one of your payout accounts the default.")
    async def payout_account_set_default(self, info: strawberry.Info, id: strawberry.ID) -> PayoutAccountPayload:
        async def action(session):
            return await accounts.set_default_account(session, info.context.viewer,
                                                     decode_id(id, "PayoutAccount", "id"))

        account, errors = await in_savepoint(info, action)
        return PayoutAccountPayload(payout_account=account, user_errors=errors)

    @strawberry.mutation(description="Remove one of your payout accounts.")
    async def payout_account_remove(self, info: strawberry.Info, id: strawberry.ID) -> PayoutAccountPayload:
        async def action(session):
            return await accounts.remove_account(session, info.context.viewer, decode_id(id, "PayoutAccount", "id"))

        account, errors = await in_savepoint(info, action)
        return PayoutAccountPayload(payout_account=account, user_errors=errors)

    @strawberry.mutation(description="Withdraw available commission to a payout account.")
    async def withdrawal_request(self, info: strawberry.Info, input: WithdrawalRequestInput) -> WithdrawalPayload:
        ctx = info.context

        async def action(session):
            account_id = (decode_id(input.payout_account_id, "PayoutAccount", "payoutAccountId")
                          if input.payout_account_id else None)
            return await requests.request_withdrawal(
                session, ctx.viewer, ctx.state.settings, ctx.state.payouts,
                amount_fen=input.amount, payout_account_id=account_id, idempotency_key=input.idempotency_key)

        withdrawal, errors = await in_savepoint(info, action)
        return WithdrawalPayload(withdrawal=withdrawal, user_errors=errors)

    @strawberry.mutation(description="Approve a requested withdrawal and pay it out (MANAGE_FINANCE). Audited.")
    async def withdrawal_approve(self, info: strawberry.Info, input: WithdrawalApproveInput) -> WithdrawalPayload:
        ctx = info.context

        async def action(session):
            return await payout.approve(session, ctx.viewer, ctx.state.settings, ctx.state.payouts,
                                        withdrawal_id=decode_id(input.id, "Withdrawal", "id"), note=input.note)

        withdrawal, errors = await in_savepoint(info, action)
        return WithdrawalPayload(withdrawal=withdrawal, user_errors=errors)

    @strawberry.mutation(description="Reject a requested withdrawal with a reason; the money returns "
                                     "(MANAGE_FINANCE). Audited.")
    async def withdrawal_reject(self, info: strawberry.Info, input: WithdrawalRejectInput) -> WithdrawalPayload:
        async def action(session):
            return await payout.reject(session, info.context.viewer,
                                       withdrawal_id=decode_id(input.id, "Withdrawal", "id"), reason=input.reason)

        withdrawal, errors = await in_savepoint(info, action)
        return WithdrawalPayload(withdrawal=withdrawal, user_errors=errors)

    @strawberry.mutation(description="Change the withdrawal rules (MANAGE_FINANCE). Audited.")
    async def withdrawal_settings_update(self, info: strawberry.Info,
                                         input: WithdrawalSettingsInput) -> WithdrawalSettingsPayload:
        changes = {target: getattr(input, attr) for attr, target in SETTINGS_FIELDS.items()
                   if getattr(input, attr) is not strawberry.UNSET}
        names = {target: _camel(attr) for attr, target in SETTINGS_FIELDS.items()}
        updated, errors = await in_savepoint(info, lambda s: rules.update_settings(
            s, info.context.viewer, changes, field_names=names))
        return WithdrawalSettingsPayload(settings=updated, user_errors=errors)
