"""Who may see which withdrawal data: one home for the rules every path applies (the list
fields, `node(id:)`, a withdrawal's nested payout account, the masked fields)."""

from __future__ import annotations

from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.crypto import mask_name
from core.errors import PermissionDenied
from models.withdrawal import PayoutAccount, Withdrawal
from services.withdrawal.masking import decrypt_number


def is_finance(viewer: Viewer) -> bool:
    return viewer.has(Permission.MANAGE_FINANCE)


def can_read_all(viewer: Viewer) -> bool:
    """Finance, and report readers (who see numbers masked), read every withdrawal."""
    return is_finance(viewer) or viewer.has(Permission.VIEW_REPORTS)


def require_read_all(viewer: Viewer) -> None:
    viewer.require_user()
    if not can_read_all(viewer):
        raise PermissionDenied("Withdrawals need MANAGE_FINANCE or VIEW_REPORTS.")


def can_view_withdrawal(viewer: Viewer, withdrawal: Withdrawal) -> bool:
    """Its owner, finance and report readers."""
    return viewer.user_id is not None and (withdrawal.user_id == viewer.user_id or can_read_all(viewer))


def can_view_account(viewer: Viewer, account: PayoutAccount) -> bool:
    """A payout account on its own: its owner while it is not removed, and finance."""
    if viewer.user_id is None:
        return False
    return is_finance(viewer) or (account.user_id == viewer.user_id and account.removed_at is None)


def can_view_account_of(viewer: Viewer, withdrawal_owner_id: int) -> bool:
    """The account a withdrawal was requested to: the withdrawal's owner (even after removing
    the account, as history) and finance; report readers see only the withdrawal's own fields."""
    return viewer.user_id is not None and (withdrawal_owner_id == viewer.user_id or is_finance(viewer))


def account_number_for(viewer: Viewer, settings: Settings, obj: PayoutAccount | Withdrawal) -> str:
    """The account number as this viewer may see it: in full for finance staff, masked for
    everyone else, the owner included."""
    if is_finance(viewer):
        return decrypt_number(settings, obj.number_encrypted)
    return obj.number_masked


def holder_name_for(viewer: Viewer, obj: PayoutAccount | Withdrawal) -> str:
    """The account holder in full for the owner and finance, masked (张**) for anyone else."""
    if obj.user_id == viewer.user_id or is_finance(viewer):
        return obj.holder_name
    return mask_name(obj.holder_name)
