"""Input checks shared by every catalog edit."""

from __future__ import annotations

from core.errors import ErrorCode, ServiceError


def clean_text(value: str | None, field_name: str, *, max_length: int, required: bool = True) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ServiceError(ErrorCode.REQUIRED, f"{field_name} is required.", field_name)
    if len(cleaned) > max_length:
        raise ServiceError(ErrorCode.INVALID, f"{field_name} is at most {max_length} characters.", field_name)
    return cleaned


def require_not_negative(value: int | None, field_name: str) -> None:
    if value is not None and value < 0:
        raise ServiceError(ErrorCode.INVALID, f"{field_name} cannot be negative.", field_name)
