"""Every order, commission, wallet and application change writes its outbox event in the same
transaction, addressed to the people who may see it."""

from __future__ import annotations

from sqlalchemy import select

from models.outbox import OutboxEvent
from tests.factories import APPLY, direct_program, register, set_program
from tests.order_support import chain, customer_of, make_sku, pk, place_and_pay


async def _events(db, event_type: str) -> list[OutboxEvent]:
    return list((await db.scalars(select(OutboxEvent).where(OutboxEvent.event_type == event_type)
                                  .order_by(OutboxEvent.id))).all())


async def test_order_commission_and_wallet_events_reach_their_audience(client, app_state, db):
    _, (a, b) = await chain(client, app_state, 2)
    buyer = await customer_of(client, b)
    order = await place_and_pay(client, buyer["accessToken"], await make_sku(client, app_state, price_fen=10000))
    orders = await _events(db, "order.updated")
    assert [e.payload["change"] for e in orders] == ["placed", "paid"]
    assert all(e.subject_id == pk(order["id"]) for e in orders)
    assert set(orders[-1].audience_user_ids) == {pk(buyer["user"]["id"]), pk(a["user_id"]), pk(b["user_id"])}
    commissions = await _events(db, "commission.updated")
    assert sorted((e.audience_user_ids, e.payload["amountFen"]) for e in commissions) == [
        ([pk(a["user_id"])], 500), ([pk(b["user_id"])], 1000)]
    wallets = await _events(db, "wallet.updated")
    assert sorted((e.audience_user_ids[0], e.payload["frozenFen"]) for e in wallets) == sorted(
        [(pk(a["user_id"]), 500), (pk(b["user_id"]), 1000)])


async def test_a_failed_mutation_leaves_no_event(client, app_state, db):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=0)
    from tests.order_support import place

    refused = await place(client, buyer["accessToken"], sku)
    assert refused["userErrors"][0]["code"] == "OUT_OF_STOCK"
    assert await _events(db, "order.updated") == []


async def test_application_events_follow_the_review(client, app_state, db):
    admin = await direct_program(client, app_state)
    await set_program(client, admin, joinMode="APPLY_AUDIT")
    applicant = await register(client)
    applied = await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=applicant["accessToken"])
    application_id = applied["distributorApply"]["application"]["id"]
    reviewed = await client.execute(
        "mutation($i: DistributorApplicationReviewInput!) { distributorApplicationReview(input: $i) { userErrors { code } } }",
        {"i": {"applicationId": application_id, "approve": False, "reason": "资料不全"}}, token=admin)
    assert reviewed["distributorApplicationReview"]["userErrors"] == []
    events = await _events(db, "application.updated")
    assert [(e.payload["status"], e.audience_user_ids) for e in events] == [
        ("PENDING", [pk(applicant["user"]["id"])]), ("REJECTED", [pk(applicant["user"]["id"])])]
    assert events[-1].payload["rejectReason"] == "资料不全" and events[-1].staff_permission == "MANAGE_DISTRIBUTORS"
