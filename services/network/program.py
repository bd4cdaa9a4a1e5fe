"""The distributor program: the one configuration row (join mode, agreement, form fields,
binding mode, commission depth, purchase thresholds) and staff edits to it."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.catalog import Product
from models.network import BindingMode, ConditionMode, JoinMode, Program
from services import audit
from services.network.changes import apply_changes

PROGRAM_ID = 1
FIELD_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
PROGRAM_FIELDS = ("join_mode", "form_fields", "require_real_name", "agreement_text", "agreement_version",
                  "binding_mode", "protection_days", "self_purchase_commission", "commission_depth",
                  "threshold_sales_fen", "threshold_orders", "threshold_product_id", "threshold_mode")


def default_program() -> Program:
    return Program(id=PROGRAM_ID, join_mode=JoinMode.APPLY_AUDIT, form_fields=[], require_real_name=False,
                   agreement_text="", agreement_version="1", binding_mode=BindingMode.FIRST_TOUCH,
                   protection_days=30, self_purchase_commission=False, commission_depth=2,
                   threshold_sales_fen=None, threshold_orders=None, threshold_product_id=None,
                   threshold_mode=ConditionMode.ANY, updated_at=utcnow())


async def get_program(session: AsyncSession) -> Program:
    """The program's configuration (the defaults until staff first save it)."""
    program = await session.get(Program, PROGRAM_ID)
    return program if program is not None else default_program()


async def _validate(session: AsyncSession, changes: dict) -> None:
    unknown = set(changes) - set(PROGRAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown program fields {unknown}")
    if "commission_depth" in changes:
        depth = changes["commission_depth"]
        if depth is None or depth < 1:
            raise ServiceError(ErrorCode.INVALID, "The commission depth is 1, 2 or 3.", "commissionDepth")
        if depth > MAX_COMMISSION_TIERS:
            raise ServiceError(ErrorCode.TIER_LIMIT, f"At most {MAX_COMMISSION_TIERS} commission tiers are "
                                                     "allowed.", "commissionDepth")
    if changes.get("protection_days") is not None and changes["protection_days"] < 1:
        raise ServiceError(ErrorCode.INVALID, "The protection period is at least one day (or permanent).",
                           "protectionDays")
    for key, field in (("threshold_sales_fen", "thresholdSales"), ("threshold_orders", "thresholdOrders")):
        if changes.get(key) is not None and changes[key] < 0:
            raise ServiceError(ErrorCode.INVALID, "Thresholds cannot be negative.", field)
    product_id = changes.get("threshold_product_id")
    if product_id is not None and await session.get(Product, product_id) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No product has this id.", "thresholdProductId")
    if "agreement_version" in changes and not (changes["agreement_version"] or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "The agreement needs a version.", "agreementVersion")
    if "form_fields" in changes:
        seen = set()
        for item in changes["form_fields"]:
            if not FIELD_KEY_RE.match(item["key"]) or item["key"] in seen:
                raise ServiceError(ErrorCode.INVALID, f"Form field keys must be unique identifiers; "
                                                      f"{item['key']!r} is not.", "formFields")
            seen.add(item["key"])


async def update_program(session: AsyncSession, viewer: Viewer, changes: dict) -> Program:
    """Staff edit the program; every change is audited with its before and after values."""
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    await _validate(session, changes)
    program = await session.get(Program, PROGRAM_ID, with_for_update=True)
    if program is None:
        program = default_program()
        session.add(program)
    before, after = apply_changes(program, changes)
    if after:
        program.updated_at = utcnow()
        await session.flush()
        await audit.record(session, actor_id=actor_id, action="program.update", subject_type="Program",
                           subject_id=PROGRAM_ID, details={"before": before, "after": after})
    return program
