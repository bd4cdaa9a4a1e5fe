"""Who may see a distributor, an application, and which of their fields.

One rule per object, used by every path to it: the `node` field, nested fields (an application's
distributor, a distributor's upline), connections and subscription subjects.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.crypto import decrypt_field, mask_id_card, mask_name
from models.network import Application, Distributor
from services.account import mask_phone
from services.network.tree import distributor_for_user


def is_network_staff(viewer: Viewer) -> bool:
    """Staff who manage distributors see every distributor, application and binding in full."""
    return viewer.has(Permission.MANAGE_DISTRIBUTORS)


# ---------------------------------------------------------------- distributors

def can_see_distributor(viewer: Viewer, own: Distributor | None, target: Distributor) -> bool:
    """Staff see anyone; a distributor sees themself and their own subtree."""
    if is_network_staff(viewer):
        return True
    if own is None:
        return False
    if own.id == target.id:
        return True
    return bool(own.path and target.path and target.path.startswith(own.path))


async def visible_distributor(session: AsyncSession, viewer: Viewer, distributor_id: int) -> Distributor | None:
    """A distributor as a node: to staff, to themself and to their uplines."""
    if viewer.user_id is None:
        return None
    target = await session.get(Distributor, distributor_id)
    if target is None:
        return None
    own = None if is_network_staff(viewer) else await distributor_for_user(session, viewer.user_id)
    return target if can_see_distributor(viewer, own, target) else None


def sees_private_fields(viewer: Viewer, distributor: Distributor) -> bool:
    """The invite code, the account, the upline and the unmasked phone number: for the
    distributor themself and staff only."""
    return distributor.user_id == viewer.user_id or is_network_staff(viewer)


def distributor_phone(viewer: Viewer, distributor: Distributor, phone: str | None) -> str | None:
    """A distributor's phone number as the viewer may see it: masked unless private fields show."""
    return phone if sees_private_fields(viewer, distributor) else mask_phone(phone)


def sees_bound_distributor(viewer: Viewer) -> bool:
    """Which distributor a customer is bound to, as an object: staff only (the customer sees the
    distributor's nickname)."""
    return is_network_staff(viewer)


# ---------------------------------------------------------------- applications

async def visible_application(session: AsyncSession, viewer: Viewer, application_id: int) -> Application | None:
    """An application as a node: to its applicant and to staff."""
    application = await session.get(Application, application_id)
    if application is None:
        return None
    if application.user_id != viewer.user_id and not is_network_staff(viewer):
        return None
    return application


def application_real_name(viewer: Viewer, application: Application) -> str | None:
    """The applicant's real name: in full for staff, masked (张**) for anyone else."""
    return application.real_name if is_network_staff(viewer) else mask_name(application.real_name)


def application_id_card(encryption_key: str, application: Application) -> str | None:
    """The applicant's ID card number, always masked (110***********1234), whoever asks."""
    if not application.id_card_encrypted:
        return None
    return mask_id_card(decrypt_field(encryption_key, application.id_card_encrypted, context="id_card"))
