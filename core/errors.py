"""Expected failures: services raise ServiceError, resolvers turn it into userErrors."""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    PHONE_TAKEN = "PHONE_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_REUSED = "TOKEN_REUSED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    WECHAT_LOGIN_FAILED = "WECHAT_LOGIN_FAILED"


class ServiceError(Exception):
    """An expected, client-visible failure of a service call."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None, *,
                 keep_changes: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        # Most failures undo the mutation's writes; a few must keep them (a detected
        # refresh-token reuse still revokes the token family).
        self.keep_changes = keep_changes


class NotAuthenticated(ServiceError):
    def __init__(self, message: str = "Sign in first."):
        super().__init__(ErrorCode.NOT_AUTHENTICATED, message)


class PermissionDenied(ServiceError):
    def __init__(self, message: str = "You do not have permission to do this."):
        super().__init__(ErrorCode.FORBIDDEN, message)
