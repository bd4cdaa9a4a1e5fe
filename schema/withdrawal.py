"""Withdrawals: payout accounts, withdrawal requests, settings, reconciliation."""

from __future__ import annotations

from datetime import datetime

import strawberry

from loaders.account import UserByIdLoader
from loaders.withdrawal import PayoutAccountByWithdrawalIdLoader
from models import withdrawal as m
from schema.account import User
from schema.base import Node, UserError
from schema.scalars import BasisPoints, Money
from services.withdrawal import access

PayoutMethod = strawberry.enum(m.PayoutMethod, name="PayoutMethod",
                               description="Where a withdrawal is paid: bank card, WeChat balance or Alipay.")
WithdrawalStatus = strawberry.enum(
    m.WithdrawalStatus, name="WithdrawalStatus",
    description="REQUESTED (waiting for review) -> APPROVED -> PAYING -> PAID or FAILED; or REJECTED.")


def _number(obj, info: strawberry.Info) -> str:
    return access.account_number_for(info.context.viewer, info.context.state.settings, obj)


def _holder(obj, info: strawberry.Info) -> str:
    return access.holder_name_for(info.context.viewer, obj)


@strawberry.type(description="A distributor's bank card, WeChat or Alipay account to receive withdrawals.")
class PayoutAccount(Node):
    method: PayoutMethod
    bank_name: str | None
    branch_name: str | None
    is_default: bool
    created_at: datetime
    removed_at: datetime | None

    @strawberry.field(description="The account holder; must be the distributor's verified real name.")
    def holder_name(self, info: strawberry.Info) -> str:
        return _holder(self, info)

    @strawberry.field(description="The card number, Alipay account or WeChat openid: masked "
                                  "(6222 **** **** 1234, 138****1234, oAbc****wxyz) for everyone but "
                                  "MANAGE_FINANCE staff.")
    def account_number(self, info: strawberry.Info) -> str:
        return _number(self, info)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.PayoutAccount))


@strawberry.type(description="A request to withdraw available commission to a payout account.")
class Withdrawal(Node):
    status: WithdrawalStatus
    method: PayoutMethod
    bank_name: str | None
    branch_name: str | None
    expected_arrival_at: datetime = strawberry.field(description="When the money should arrive, by method "
                                                                 "(bank cards take longer in a peak period).")
    auto_approved: bool
    reject_reason: str | None
    failure_reason: str | None
    provider_reference: str | None
    created_at: datetime
    reviewed_at: datetime | None
    paid_at: datetime | None
    failed_at: datetime | None

    @strawberry.field(description="The amount taken from the available balance, fee included.")
    def amount(self) -> Money:
        return self.amount_fen

    @strawberry.field
    def fee(self) -> Money:
        return self.fee_fen

    @strawberry.field(description="What the distributor receives: amount - fee.")
    def net(self) -> Money:
        return self.net_fen

    @strawberry.field(description="The account holder; masked (张**) for anyone but the owner and finance.")
    def holder_name(self, info: strawberry.Info) -> str:
        return _holder(self, info)

    @strawberry.field(description="The account paid to, masked for everyone but MANAGE_FINANCE staff.")
    def account_number(self, info: strawberry.Info) -> str:
        return _number(self, info)

    @strawberry.field(description="Who asked for it.")
    async def user(self, info: strawberry.Info) -> User | None:
        return await UserByIdLoader(info.context).load(self.user_id)

    @strawberry.field(description="The payout account it was requested to (owner and finance only).")
    async def payout_account(self, info: strawberry.Info) -> PayoutAccount | None:
        if self.payout_account_id is None:
            return None
        return await PayoutAccountByWithdrawalIdLoader(info.context).load(self.id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Withdrawal))


@strawberry.type(name="WithdrawalSettings", description="The withdrawal rules (edited by MANAGE_FINANCE).")
class WithdrawalSettingsType:
    @strawberry.field(description="The smallest amount a request may ask for.")
    def min_amount(self) -> Money:
        return self.min_amount_fen

    @strawberry.field(description="The fee rate, charged on the amount and rounded down to the fen.")
    def fee_rate(self) -> BasisPoints:
        return self.fee_bps

    @strawberry.field(description="The smallest fee of a request.")
    def fee_minimum(self) -> Money:
        return self.fee_min_fen

    @strawberry.field(description="Requests a distributor may make per (Beijing) day; null: no limit.")
    def daily_count_limit(self) -> int | None:
        return self.daily_count_limit

    @strawberry.field(description="The total a distributor may request per (Beijing) day; null: no limit.")
    def daily_amount_limit(self) -> Money | None:
        return self.daily_amount_limit_fen

    @strawberry.field(description="Requests below this amount are approved automatically; null: never.")
    def auto_approve_below(self) -> Money | None:
        return self.auto_approve_below_fen

    bank_card_hours: int
    bank_card_peak_hours: int
    wechat_hours: int
    alipay_hours: int
    peak_starts_at: datetime | None
    peak_ends_at: datetime | None
    updated_at: datetime


@strawberry.type(description="The viewer's withdraw page: balances, today's use of the limits and the rules.")
class WithdrawalOverview:
    @strawberry.field
    def available(self) -> Money:
        return self.available_fen

    @strawberry.field
    def withdrawing(self) -> Money:
        return self.withdrawing_fen

    @strawberry.field
    def withdrawn(self) -> Money:
        return self.withdrawn_fen

    @strawberry.field(description="Clawback debt; withdrawals are blocked while it is above zero.")
    def debt(self) -> Money:
        return self.debt_fen

    today_count: int

    @strawberry.field
    def today_amount(self) -> Money:
        return self.today_amount_fen

    @strawberry.field
    def settings(self) -> WithdrawalSettingsType:
        return self.rules


@strawberry.type(description="A withdrawal whose ledger entries or provider answers disagree with its state.")
class ReconciliationMismatch:
    withdrawal: Withdrawal
    kind: str = strawberry.field(description="LEDGER, PROVIDER_PAID, PROVIDER_FAILED or UNCONFIRMED.")
    detail: str


@strawberry.type(description="Withdrawals of a period [from, to) for finance.")
class WithdrawalReconciliation:
    period_start: datetime
    period_end: datetime
    requested_count: int
    paid_count: int
    failed_count: int
    rejected_count: int
    in_flight_count: int
    mismatches: list[ReconciliationMismatch]

    @strawberry.field(description="Requested in the period (by request time).")
    def requested(self) -> Money:
        return self.requested_fen

    @strawberry.field(description="Paid in the period (by payment time), fees included.")
    def paid(self) -> Money:
        return self.paid_fen

    @strawberry.field(description="What the payees received for the period's payments.")
    def paid_net(self) -> Money:
        return self.paid_net_fen

    @strawberry.field(description="Fees on the period's payments.")
    def fees(self) -> Money:
        return self.fees_fen

    @strawberry.field(description="Failed in the period; the money went back to the available balance.")
    def failed(self) -> Money:
        return self.failed_fen

    @strawberry.field
    def rejected(self) -> Money:
        return self.rejected_fen

    @strawberry.field(description="Requested in the period and not yet paid, failed or rejected.")
    def in_flight(self) -> Money:
        return self.in_flight_fen


@strawberry.type
class PayoutAccountPayload:
    payout_account: PayoutAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WithdrawalPayload:
    withdrawal: Withdrawal | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WithdrawalSettingsPayload:
    settings: WithdrawalSettingsType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PayoutAccountAddInput:
    method: PayoutMethod
    holder_name: str | None = strawberry.field(default=None, description="Required for bank cards and Alipay; "
                                                                         "must match your verified real name.")
    account_number: str | None = strawberry.field(default=None, description="Card number or Alipay account; "
                                                                            "WeChat uses your mini-program openid.")
    bank_name: str | None = None
    branch_name: str | None = None
    make_default: bool = False


@strawberry.input
class WithdrawalRequestInput:
    amount: Money = strawberry.field(description="Taken from the available balance, fee included.")
    payout_account_id: strawberry.ID | None = strawberry.field(default=None, description="Default: your "
                                                                                       "default account.")
    idempotency_key: str | None = strawberry.field(default=None, description="Retrying with the same key "
                                                                             "returns the first request.")


@strawberry.input
class WithdrawalApproveInput:
    id: strawberry.ID
    note: str | None = None


@strawberry.input
class WithdrawalRejectInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class WithdrawalFilter:
    status: WithdrawalStatus | None = None
    method: PayoutMethod | None = None
    user_id: strawberry.ID | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


@strawberry.input(description="Only the given fields change; null clears the optional limits.")
class WithdrawalSettingsInput:
    min_amount: Money | None = strawberry.UNSET
    fee_rate: BasisPoints | None = strawberry.UNSET
    fee_minimum: Money | None = strawberry.UNSET
    daily_count_limit: int | None = strawberry.UNSET
    daily_amount_limit: Money | None = strawberry.UNSET
    auto_approve_below: Money | None = strawberry.UNSET
    bank_card_hours: int | None = strawberry.UNSET
    bank_card_peak_hours: int | None = strawberry.UNSET
    wechat_hours: int | None = strawberry.UNSET
    alipay_hours: int | None = strawberry.UNSET
    peak_starts_at: datetime | None = strawberry.UNSET
    peak_ends_at: datetime | None = strawberry.UNSET
