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
    # The distributor network.
    TIER_LIMIT = "TIER_LIMIT"
    AGREEMENT_OUTDATED = "AGREEMENT_OUTDATED"
    ALREADY_DISTRIBUTOR = "ALREADY_DISTRIBUTOR"
    APPLICATION_PENDING = "APPLICATION_PENDING"
    BLACKLISTED = "BLACKLISTED"
    THRESHOLD_NOT_MET = "THRESHOLD_NOT_MET"
    INVITE_REQUIRED = "INVITE_REQUIRED"
    INVALID_ID_CARD = "INVALID_ID_CARD"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NOT_A_DISTRIBUTOR = "NOT_A_DISTRIBUTOR"
    DISTRIBUTOR_INACTIVE = "DISTRIBUTOR_INACTIVE"
    SELF_BINDING = "SELF_BINDING"
    CYCLE = "CYCLE"
    CUSTOMER_PROTECTED = "CUSTOMER_PROTECTED"
    NOT_NEW_USER = "NOT_NEW_USER"
    HAS_UPLINE = "HAS_UPLINE"
    GRADE_LEVEL_TAKEN = "GRADE_LEVEL_TAKEN"
    REGION_TAKEN = "REGION_TAKEN"
    # Money.
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    # The catalog.
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    NO_PRICE_BAND = "NO_PRICE_BAND"
    INVALID_BAND = "INVALID_BAND"
    BAND_STRANDS_PRICES = "BAND_STRANDS_PRICES"
    NOT_DISTRIBUTABLE = "NOT_DISTRIBUTABLE"
    SKU_CODE_TAKEN = "SKU_CODE_TAKEN"
    # Live updates.
    SLOW_SUBSCRIBER = "SLOW_SUBSCRIBER"
    UNAVAILABLE = "UNAVAILABLE"
    # Orders and payment.
    INVALID_STATE = "INVALID_STATE"
    ORDER_EXPIRED = "ORDER_EXPIRED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    # Withdrawals.
    REAL_NAME_REQUIRED = "REAL_NAME_REQUIRED"
    AGREEMENT_REQUIRED = "AGREEMENT_REQUIRED"
    HOLDER_NAME_MISMATCH = "HOLDER_NAME_MISMATCH"
    WECHAT_NOT_BOUND = "WECHAT_NOT_BOUND"
    INVALID_ACCOUNT_NUMBER = "INVALID_ACCOUNT_NUMBER"
    PAYOUT_ACCOUNT_EXISTS = "PAYOUT_ACCOUNT_EXISTS"
    NO_PAYOUT_ACCOUNT = "NO_PAYOUT_ACCOUNT"
    OUTSTANDING_DEBT = "OUTSTANDING_DEBT"
    AMOUNT_BELOW_MINIMUM = "AMOUNT_BELOW_MINIMUM"
    DAILY_COUNT_LIMIT = "DAILY_COUNT_LIMIT"
    DAILY_AMOUNT_LIMIT = "DAILY_AMOUNT_LIMIT"


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
