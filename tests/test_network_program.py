"""The distributor program, applications and their audit, and distributor states."""

from __future__ import annotations

from sqlalchemy import select

from core.ids import decode_global_id, encode_global_id
from models.audit import AuditEntry
from models.network import Application
from tests.factories import (
    APPLY,
    MY_DISTRIBUTOR,
    PROGRAM_UPDATE,
    VALID_ID_CARD,
    back_office,
    join,
    register,
    set_program,
    staff,
)
from tests.order_support import completed_order, make_sku, place_and_pay, ship_and_receive

PROGRAM = """{ distributorProgram { joinMode bindingMode protectionDays commissionDepth agreementVersion
  agreementText requireRealName selfPurchaseCommission thresholdSales thresholdOrders thresholdMode
  formFields { key label required } } }"""
APPLICATIONS = """
query($status: ApplicationStatus) {
  distributorApplications(status: $status, first: 10) {
    nodes { id status realName idCardNumber agreementVersion formData { key value } applicant { phone } }
  }
}"""
REVIEW = """
mutation($input: DistributorApplicationReviewInput!) {
  distributorApplicationReview(input: $input) {
    application { id status rejectReason distributor { status } }
    userErrors { field code message }
  }
}"""
MY_APPLICATIONS = "{ myDistributorApplications { nodes { status rejectReason idCardNumber realName } } }"
STATUS = """
mutation($input: DistributorStatusInput!) {
  distributorStatusUpdate(input: $input) { distributor { id status } userErrors { field code message } }
}"""


async def test_program_defaults_are_public_and_staff_edit_them_audited(client, app_state, db):
    data = await client.execute(PROGRAM)
    assert data["distributorProgram"]["joinMode"] == "APPLY_AUDIT"
    assert data["distributorProgram"]["commissionDepth"] == 2
    admin = await staff(client, app_state, {"MANAGE_DISTRIBUTORS"})
    program = await set_program(client, admin["accessToken"], joinMode="PURCHASE_THRESHOLD",
                                bindingMode="LAST_TOUCH", protectionDays=None, commissionDepth=3,
                                agreementText="分销协议……", agreementVersion="2024-01", requireRealName=True,
                                selfPurchaseCommission=True, thresholdSales="99.90", thresholdOrders=2,
                                thresholdMode="ALL",
                                formFields=[{"key": "wechat", "label": "微信号", "required": True}])
    assert program == {"joinMode": "PURCHASE_THRESHOLD", "bindingMode": "LAST_TOUCH", "protectionDays": None,
                       "commissionDepth": 3, "agreementVersion": "2024-01"}
    data = await client.execute(PROGRAM)
    assert data["distributorProgram"]["thresholdSales"] == "99.90"
    assert data["distributorProgram"]["formFields"] == [{"key": "wechat", "label": "微信号", "required": True}]
    entry = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "program.update"))).one()
    assert entry.details["after"]["commission_depth"] == 3
    assert entry.details["before"]["commission_depth"] == 2
    assert entry.details["after"]["threshold_sales_fen"] == 9990


async def test_fourth_tier_is_refused_and_customers_cannot_edit(client, app_state):
    admin = await staff(client, app_state, {"MANAGE_DISTRIBUTORS"})
    data = await client.execute(PROGRAM_UPDATE, {"input": {"commissionDepth": 4}}, token=admin["accessToken"])
    assert data["distributorProgramUpdate"]["userErrors"] == [
        {"field": "commissionDepth", "code": "TIER_LIMIT", "message": "At most 3 commission tiers are allowed."}]
    assert (await client.execute(PROGRAM))["distributorProgram"]["commissionDepth"] == 2
    customer = await register(client)
    data = await client.execute(PROGRAM_UPDATE, {"input": {"commissionDepth": 1}}, token=customer["accessToken"])
    assert data["distributorProgramUpdate"]["userErrors"][0]["code"] == "FORBIDDEN"
    other_staff = await staff(client, app_state, {"MANAGE_CATALOG"})
    data = await client.execute(PROGRAM_UPDATE, {"input": {"commissionDepth": 1}},
                                token=other_staff["accessToken"])
    assert data["distributorProgramUpdate"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_apply_audit_with_form_fields_and_real_name(client, app_state, db):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    await set_program(client, admin, requireRealName=True, agreementVersion="v2",
                      formFields=[{"key": "wechat", "label": "微信号", "required": True},
                                  {"key": "shop", "label": "店铺", "required": False}])
    customer = await register(client)
    token = customer["accessToken"]
    base = {"agreementVersion": "v2", "realName": "张三", "idCardNumber": VALID_ID_CARD,
            "formData": [{"key": "wechat", "value": "zhang_san"}]}
    refusals = [
        ({**base, "agreementVersion": "v1"}, "AGREEMENT_OUTDATED", "agreementVersion"),
        ({**base, "formData": []}, "REQUIRED", "formData.wechat"),
        ({**base, "realName": None}, "REQUIRED", "realName"),
        ({**base, "idCardNumber": "110105194912310021"}, "INVALID_ID_CARD", "idCardNumber"),
        ({**base, "formData": [{"key": "wechat", "value": "z"}, {"key": "age", "value": "3"}]}, "INVALID",
         "formData"),
    ]
    for variables, code, field in refusals:
        payload = (await client.execute(APPLY, {"input": variables}, token=token))["distributorApply"]
        assert payload["application"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]

    payload = (await client.execute(APPLY, {"input": base}, token=token))["distributorApply"]
    assert payload["userErrors"] == []
    application = payload["application"]
    assert application["status"] == "PENDING"
    assert application["distributor"]["status"] == "PENDING"
    assert application["idCardNumber"] == "110***********002X"
    assert application["realName"] == "张*"
    assert application["formData"] == [{"key": "wechat", "value": "zhang_san"}]
    # Encrypted at rest: the number is nowhere in the stored row.
    stored = (await db.scalars(select(Application))).one()
    assert VALID_ID_CARD not in stored.id_card_encrypted and stored.id_card_encrypted.startswith("v1:")

    # Applying again while pending is refused.
    payload = (await client.execute(APPLY, {"input": base}, token=token))["distributorApply"]
    assert payload["userErrors"][0]["code"] == "APPLICATION_PENDING"

    # Staff list and filter; staff see the real name, the ID card stays masked.
    listed = (await client.execute(APPLICATIONS, {"status": "PENDING"}, token=admin))["distributorApplications"]
    assert [(n["id"], n["realName"], n["idCardNumber"]) for n in listed["nodes"]] == [
        (application["id"], "张三", "110***********002X")]
    assert listed["nodes"][0]["applicant"]["phone"] == customer["user"]["phone"]
    assert (await client.execute(APPLICATIONS, {"status": "APPROVED"}, token=admin)
            )["distributorApplications"]["nodes"] == []
    errors = await client.errors(APPLICATIONS, {"status": "PENDING"}, token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"

    # Rejecting needs a reason; the applicant sees the outcome and may apply again.
    review = {"applicationId": application["id"], "approve": False}
    payload = (await client.execute(REVIEW, {"input": review}, token=admin))["distributorApplicationReview"]
    assert payload["userErrors"] == [{"field": "reason", "code": "REQUIRED",
                                      "message": "Say why the application is rejected."}]
    payload = (await client.execute(REVIEW, {"input": {**review, "reason": "资料不全"}}, token=admin)
               )["distributorApplicationReview"]
    assert payload["application"]["status"] == "REJECTED"
    assert payload["application"]["distributor"]["status"] == "REJECTED"
    mine = (await client.execute(MY_APPLICATIONS, token=token))["myDistributorApplications"]["nodes"]
    assert mine == [{"status": "REJECTED", "rejectReason": "资料不全", "idCardNumber": "110***********002X",
                     "realName": "张*"}]
    payload = (await client.execute(REVIEW, {"input": {**review, "reason": "again"}}, token=admin)
               )["distributorApplicationReview"]
    assert payload["userErrors"][0]["code"] == "INVALID_TRANSITION"

    payload = (await client.execute(APPLY, {"input": base}, token=token))["distributorApply"]
    second = payload["application"]
    payload = (await client.execute(REVIEW, {"input": {"applicationId": second["id"], "approve": True}},
                                    token=admin))["distributorApplicationReview"]
    assert payload["application"]["status"] == "APPROVED"
    me = (await client.execute(MY_DISTRIBUTOR, token=token))["myDistributor"]
    assert me["status"] == "ACTIVE" and len(me["inviteCode"]) == 8 and me["depth"] == 0
    await db.rollback()  # end the earlier read's snapshot
    actions = (await db.scalars(select(AuditEntry.action).where(
        AuditEntry.subject_type == "DistributorApplication").order_by(AuditEntry.id))).all()
    assert actions == ["distributor.application.reject", "distributor.application.approve"]


async def test_direct_join_and_invite_only(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    await set_program(client, admin, joinMode="DIRECT")
    first = await join(client)
    assert first["status"] == "ACTIVE"
    await set_program(client, admin, joinMode="INVITE_ONLY")
    customer = await register(client)
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=customer["accessToken"])
               )["distributorApply"]
    assert payload["userErrors"][0]["code"] == "INVITE_REQUIRED"
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1", "inviteCode": "NOPE1234"}},
                                    token=customer["accessToken"]))["distributorApply"]
    assert payload["userErrors"][0] == {"field": "inviteCode", "code": "NOT_FOUND",
                                        "message": "This invite code is not valid."}
    invited = await join(client, first["invite_code"])
    assert invited["status"] == "ACTIVE"
    me = (await client.execute(MY_DISTRIBUTOR, token=invited["token"]))["myDistributor"]
    assert me["upline"] == {"id": first["id"]} and me["depth"] == 1


async def test_purchase_threshold_says_what_is_missing(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    for wrong, code in ((encode_global_id("Product", 77), "NOT_FOUND"), (encode_global_id("Grade", 77), "INVALID")):
        data = await client.execute(PROGRAM_UPDATE, {"input": {"thresholdProductId": wrong}}, token=admin)
        assert [(e["field"], e["code"]) for e in data["distributorProgramUpdate"]["userErrors"]] == [
            ("thresholdProductId", code)]
    tea = await make_sku(client, app_state, price_fen=3000, title="龙井茶")
    teapot = await make_sku(client, app_state, price_fen=12000, title="茶具")
    await set_program(client, admin, joinMode="PURCHASE_THRESHOLD", thresholdSales="100.00", thresholdOrders=2,
                      thresholdProductId=tea["product_gid"], thresholdMode="ALL")
    program = (await client.execute("{ distributorProgram { thresholdProductId } }"))["distributorProgram"]
    assert program["thresholdProductId"] == tea["product_gid"]
    tea_pk = decode_global_id(tea["product_gid"])[1]
    customer = await register(client)
    token = customer["accessToken"]
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=token))["distributorApply"]
    assert payload["userErrors"] == [{"field": None, "code": "THRESHOLD_NOT_MET", "message":
        "To join, spend 100.00 more (completed purchases 0.00 of 100.00) and complete 2 more order(s) (0 of 2) "
        f"and buy product {tea_pk}."}]
    # A paid order counts only once it is completed.
    paid = await place_and_pay(client, token, teapot)
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=token))["distributorApply"]
    assert payload["userErrors"][0]["code"] == "THRESHOLD_NOT_MET"
    await ship_and_receive(client, await back_office(client, app_state), token, paid["id"])
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=token))["distributorApply"]
    assert payload["userErrors"][0]["message"] == (
        f"To join, complete 1 more order(s) (1 of 2) and buy product {tea_pk}.")
    await completed_order(client, app_state, token, tea)
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=token))["distributorApply"]
    assert payload["userErrors"] == []
    assert payload["application"]["status"] == "APPROVED"
    assert payload["application"]["distributor"]["status"] == "ACTIVE"


async def test_purchase_threshold_any_mode(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    await set_program(client, admin, joinMode="PURCHASE_THRESHOLD", thresholdSales="100.00", thresholdOrders=3)
    customer = await register(client)
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=customer["accessToken"])
               )["distributorApply"]
    assert payload["userErrors"][0]["message"] == (
        "To join, spend 100.00 more (completed purchases 0.00 of 100.00) or complete 3 more order(s) (0 of 3).")
    await completed_order(client, app_state, customer["accessToken"], await make_sku(client, app_state, price_fen=10000))
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=customer["accessToken"])
               )["distributorApply"]
    assert payload["application"]["status"] == "APPROVED"


async def test_states_freeze_unfreeze_blacklist_audited(client, app_state, db):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    await set_program(client, admin, joinMode="DIRECT")
    member = await join(client)

    async def change(status, reason="违规推广", token=admin):
        return (await client.execute(STATUS, {"input": {"distributorId": member["id"], "status": status,
                                                        "reason": reason}}, token=token)
                )["distributorStatusUpdate"]

    assert (await change("FROZEN", token=member["token"]))["userErrors"][0]["code"] == "FORBIDDEN"
    assert (await change("FROZEN", reason=" "))["userErrors"][0]["code"] == "REQUIRED"
    assert (await change("FROZEN"))["distributor"]["status"] == "FROZEN"
    assert (await change("PENDING"))["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert (await change("ACTIVE"))["distributor"]["status"] == "ACTIVE"
    assert (await change("BLACKLISTED"))["distributor"]["status"] == "BLACKLISTED"
    assert (await change("ACTIVE"))["userErrors"][0] == {
        "field": "status", "code": "INVALID_TRANSITION", "message": "A blacklisted distributor cannot become active."}
    # A blacklisted user cannot apply again.
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=member["token"])
               )["distributorApply"]
    assert payload["userErrors"] == [{"field": None, "code": "BLACKLISTED",
                                      "message": "You cannot apply: this account is blacklisted."}]
    entries = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "distributor.status")
                                .order_by(AuditEntry.id))).all()
    assert [(e.details["before"], e.details["after"], e.reason) for e in entries] == [
        ("ACTIVE", "FROZEN", "违规推广"), ("FROZEN", "ACTIVE", "违规推广"), ("ACTIVE", "BLACKLISTED", "违规推广")]


async def test_blacklisting_a_pending_applicant_rejects_the_application(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    customer = await register(client)
    payload = (await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=customer["accessToken"])
               )["distributorApply"]
    distributor_id = payload["application"]["distributor"]["id"]
    data = await client.execute(STATUS, {"input": {"distributorId": distributor_id, "status": "BLACKLISTED",
                                                   "reason": "刷单"}}, token=admin)
    assert data["distributorStatusUpdate"]["distributor"]["status"] == "BLACKLISTED"
    mine = (await client.execute(MY_APPLICATIONS, token=customer["accessToken"]))["myDistributorApplications"]
    assert mine["nodes"][0]["status"] == "REJECTED" and mine["nodes"][0]["rejectReason"] == "刷单"
