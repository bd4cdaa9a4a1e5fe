"""Arranging withdrawals through the API: payout accounts, funded distributors, requests, the
sandbox payout callback, and the GraphQL documents the withdrawal tests share."""

from __future__ import annotations

from sqlalchemy import select

from models.wallet import LedgerEntry, LedgerKind, Wallet
from models.withdrawal import PayoutResultStatus
from services import ledger
from services.payout import SIGNATURE_HEADER, callback_body, sign_callback
from tests.factories import staff, verified_distributor
from tests.order_support import earn

ACCOUNT_FIELDS = "id method bankName branchName holderName accountNumber isDefault removedAt"
ADD = f"""
mutation($input: PayoutAccountAddInput!) {{
  payoutAccountAdd(input: $input) {{ payoutAccount {{ {ACCOUNT_FIELDS} }} userErrors {{ field code message }} }}
}}"""
CARD = {"method": "BANK_CARD", "holderName": "张三", "accountNumber": "6222 0212 3456 1234",
        "bankName": "工商银行", "branchName": "北京分行"}
ALIPAY = {"method": "ALIPAY", "holderName": "张三", "accountNumber": "13812341234"}
# The sandbox payout provider answers later (PAYING until its callback) for numbers ending in 4003.
LATE_CARD = {**CARD, "accountNumber": "6222021234564003"}

WITHDRAWAL_FIELDS = """id status method amount fee net accountNumber holderName expectedArrivalAt createdAt
  autoApproved rejectReason failureReason reviewedAt paidAt providerReference"""
REQUEST = f"""
mutation($input: WithdrawalRequestInput!) {{
  withdrawalRequest(input: $input) {{ withdrawal {{ {WITHDRAWAL_FIELDS} }} userErrors {{ field code message }} }}
}}"""
APPROVE = f"""
mutation($input: WithdrawalApproveInput!) {{
  withdrawalApprove(input: $input) {{ withdrawal {{ {WITHDRAWAL_FIELDS} }} userErrors {{ field code message }} }}
}}"""
REJECT = f"""
mutation($input: WithdrawalRejectInput!) {{
  withdrawalReject(input: $input) {{ withdrawal {{ {WITHDRAWAL_FIELDS} }} userErrors {{ field code message }} }}
}}"""
SETTINGS_UPDATE = """
mutation($input: WithdrawalSettingsInput!) {
  withdrawalSettingsUpdate(input: $input) {
    settings { minAmount feeRate feeMinimum dailyCountLimit dailyAmountLimit autoApproveBelow bankCardHours
               bankCardPeakHours wechatHours alipayHours peakStartsAt peakEndsAt }
    userErrors { field code message }
  }
}"""
OVERVIEW = """{ myWithdrawalOverview { available withdrawing withdrawn debt todayCount todayAmount
  settings { minAmount feeRate feeMinimum dailyCountLimit } } }"""

PAYOUT_CALLBACK_PATH = "/callbacks/payout/sandbox"


def codes(payload) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def add(client, token, **fields) -> dict:
    return (await client.execute(ADD, {"input": fields}, token=token))["payoutAccountAdd"]


async def request(client, token, amount: str, **fields) -> dict:
    data = await client.execute(REQUEST, {"input": {"amount": amount, **fields}}, token=token)
    return data["withdrawalRequest"]


async def overview(client, token) -> dict:
    return (await client.execute(OVERVIEW, token=token))["myWithdrawalOverview"]


async def finance_token(client, app_state, **rules) -> str:
    """A MANAGE_FINANCE staff token, with the withdrawal rules changed by `rules` (if any)."""
    token = (await staff(client, app_state, {"MANAGE_FINANCE"}))["accessToken"]
    if rules:
        data = await client.execute(SETTINGS_UPDATE, {"input": rules}, token=token)
        assert data["withdrawalSettingsUpdate"]["userErrors"] == [], data
    return token


async def funded(client, app_state, fen: int = 100_000, account: dict | None = None, **kwargs) -> dict:
    """A verified distributor (see verified_distributor) with `fen` of available commission,
    earned through a completed and settled order, and a payout account (a bank card by default)."""
    me = await verified_distributor(client, app_state, **kwargs)
    await earn(client, app_state, me["token"], fen)
    added = await add(client, me["token"], **(account or CARD))
    assert added["userErrors"] == [], added
    me["account_id"] = added["payoutAccount"]["id"]
    return me


async def ledger_kinds(db, user_pk: int) -> list[LedgerKind]:
    """The kinds of a user's withdrawal ledger entries, oldest first."""
    wallet_id = await db.scalar(select(Wallet.id).where(Wallet.user_id == user_pk))
    return list((await db.scalars(select(LedgerEntry.kind).where(LedgerEntry.wallet_id == wallet_id,
                                                                 LedgerEntry.subject_type == "Withdrawal")
                                  .order_by(LedgerEntry.id))).all())


async def balanced(db, user_pk: int) -> dict:
    """A user's balances, after checking that they equal the sums of the ledger entries."""
    wallet = await db.scalar(select(Wallet).where(Wallet.user_id == user_pk).execution_options(populate_existing=True))
    assert ledger.balances(wallet) == await ledger.ledger_sums(db, wallet.id)
    return ledger.balances(wallet)


async def post_payout_callback(client, settings, reference: str, status: PayoutResultStatus, *,
                               signature: str | None = None):
    """What the sandbox payout provider sends when it answers late: a signed JSON body."""
    body = callback_body(reference, status, transaction_id=f"tx-{reference}")
    headers = {"content-type": "application/json",
               SIGNATURE_HEADER: signature if signature is not None else sign_callback(settings.secret_key, body)}
    return await client.http.post(PAYOUT_CALLBACK_PATH, content=body, headers=headers)
