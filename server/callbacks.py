"""Provider callbacks over HTTP: verified, idempotent, one transaction each."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

import json

from core.errors import ServiceError
from server.bodies import BodyTooLarge, read_capped_body
from services import order as order_service
from services import payout as payout_service
from services import withdrawal as withdrawal_service
from models.withdrawal import PayoutResultStatus

log = logging.getLogger("fenxiao.callbacks")

MAX_CALLBACK_BYTES = 64 * 1024


async def payment_callback(request: Request) -> JSONResponse:
    """POST /callbacks/payment/{provider}: the body as the provider sent it, its signature in
    the X-Signature header. Replays answer 200 and change nothing."""
    state = request.app.state.app_state
    provider = state.payments
    if request.path_params["provider"] != provider.name:
        return JSONResponse({"ok": False, "error": "UNKNOWN_PROVIDER"}, status_code=404)
    try:
        body = await read_capped_body(request, MAX_CALLBACK_BYTES)
    except BodyTooLarge:
        return JSONResponse({"ok": False, "error": "PAYLOAD_TOO_LARGE"}, status_code=413)
    async with state.writer_sessionmaker() as session:
        try:
            payment = await order_service.handle_payment_callback(
                session, provider, body, request.headers.get("x-signature"))
        except ServiceError as error:
            await session.rollback()
            log.warning("payment callback refused", extra={"fields": {"code": error.code.value}})
            status = 400 if error.code.value in ("INVALID_SIGNATURE", "AMOUNT_MISMATCH") else 404
            return JSONResponse({"ok": False, "error": error.code.value}, status_code=status)
        await session.commit()
    return JSONResponse({"ok": True, "status": payment.status.value})


async def payout_callback(request: Request) -> JSONResponse:
    """POST /callbacks/payout/sandbox: the payout provider's late answer, signed with HMAC-SHA256
    (header X-Sandbox-Signature, see services.payout.sign_callback). Replays change nothing."""
    state = request.app.state.app_state
    try:
        body = await read_capped_body(request, MAX_CALLBACK_BYTES)
    except BodyTooLarge:
        return JSONResponse({"ok": False, "error": "PAYLOAD_TOO_LARGE"}, status_code=413)
    if not payout_service.verify_callback(state.settings.secret_key, body,
                                          request.headers.get(payout_service.SIGNATURE_HEADER)):
        log.warning("payout callback refused", extra={"fields": {"code": "INVALID_SIGNATURE"}})
        return JSONResponse({"ok": False, "error": "INVALID_SIGNATURE"}, status_code=401)
    try:
        data = json.loads(body)
        reference = str(data["reference"])
        status = PayoutResultStatus(data["status"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"ok": False, "error": "INVALID"}, status_code=400)
    async with state.writer_sessionmaker() as session:
        try:
            withdrawal, changed = await withdrawal_service.apply_payout_result(
                session, provider_name=state.payouts.name, reference=reference, status=status,
                transaction_id=data.get("transactionId"), message=data.get("message"))
        except ServiceError as error:
            await session.rollback()
            log.warning("payout callback refused", extra={"fields": {"code": error.code.value}})
            return JSONResponse({"ok": False, "error": error.code.value}, status_code=404)
        await session.commit()
    return JSONResponse({"ok": True, "changed": changed, "status": withdrawal.status.value})
