"""Applying a staff edit to a configuration row (the program, a grade) and describing it for
the audit trail."""

from __future__ import annotations

from typing import Any


def audit_value(value: Any) -> Any:
    """A value as the audit trail stores it (JSON): enums by their value."""
    return value.value if hasattr(value, "value") else value


def apply_changes(row: Any, changes: dict[str, Any]) -> tuple[dict, dict]:
    """Set the attributes that differ; returns (before, after) of just those, for the audit."""
    before, after = {}, {}
    for key, value in changes.items():
        old = getattr(row, key)
        if old != value:
            before[key], after[key] = audit_value(old), audit_value(value)
            setattr(row, key, value)
    return before, after
