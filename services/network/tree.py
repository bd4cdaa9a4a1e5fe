"""The team tree: parent links plus a materialized path, looked up and rewritten in single
statements.

Paths are "/<root id>/.../<own id>/"; a subtree is the byte range [path, path[:-1] + "0"),
which both databases answer from the unique index on `path`.
"""

from __future__ import annotations

from sqlalchemy import String, and_, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.errors import ErrorCode, ServiceError
from models.network import Distributor, DistributorStatus


def subtree_bounds(path: str) -> tuple[str, str]:
    """[low, high) of the paths in the subtree rooted at `path` (itself included)."""
    return path, path[:-1] + "0"


def in_subtree(column, path: str, *, include_self: bool = True):
    low, high = subtree_bounds(path)
    lower = column >= low if include_self else column > low
    return and_(lower, column < high)


def column_in_subtree_of(column, root_path_column, *, include_self: bool = True):
    """`column` lies in the subtree of the path held by another column (for joins)."""
    high = func.substr(root_path_column, 1, func.length(root_path_column) - 1, type_=String) + literal("0")
    lower = column >= root_path_column if include_self else column > root_path_column
    return and_(lower, column < high)


def path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


# ---------------------------------------------------------------- lookups

async def distributor_for_user(session: AsyncSession, user_id: int, *, lock: bool = False) -> Distributor | None:
    stmt = select(Distributor).where(Distributor.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def require_own_distributor(session: AsyncSession, viewer: Viewer, *, active: bool = False) -> Distributor:
    user_id = viewer.require_user()
    distributor = await distributor_for_user(session, user_id)
    if distributor is None or distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "You are not a distributor yet.")
    if active and distributor.status != DistributorStatus.ACTIVE:
        raise ServiceError(ErrorCode.DISTRIBUTOR_INACTIVE,
                           f"Your distributor account is {distributor.status.value.lower()}.")
    return distributor


async def get_distributor(session: AsyncSession, distributor_id: int, field: str = "distributorId",
                          *, lock: bool = False) -> Distributor:
    stmt = select(Distributor).where(Distributor.id == distributor_id)
    if lock:
        stmt = stmt.with_for_update()
    distributor = await session.scalar(stmt)
    if distributor is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No distributor has this id.", field)
    return distributor


async def distributors_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Distributor]:
    return {d.id: d for d in await session.scalars(select(Distributor).where(Distributor.id.in_(ids)))}


async def ancestors(session: AsyncSession, distributor: Distributor, depth: int | None = None) -> list[Distributor]:
    """Uplines nearest first, one primary-key query."""
    if not distributor.path:
        return []
    ids = path_ids(distributor.path)[:-1][::-1]
    if depth is not None:
        ids = ids[:depth]
    if not ids:
        return []
    rows = {d.id: d for d in await session.scalars(select(Distributor).where(Distributor.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


async def ancestors_for_commission(session: AsyncSession, distributor_id: int, depth: int) -> list[Distributor]:
    """The uplines of a distributor, nearest first, at most `depth` (capped at the three-tier
    limit) of them, in one query. Inactive uplines are returned too: the commission engine skips
    them without moving anyone up into their place."""
    depth = max(0, min(depth, MAX_COMMISSION_TIERS))
    if depth == 0:
        return []
    # Walk up the parent links with a recursive CTE: `depth` primary-key lookups in one statement.
    start = select(Distributor.parent_id.label("id"), literal(1).label("tier")).where(
        Distributor.id == distributor_id).cte("uplines", recursive=True)
    parent = aliased(Distributor)
    start = start.union_all(
        select(parent.parent_id, start.c.tier + 1)
        .join(start, parent.id == start.c.id)
        .where(start.c.tier < depth, parent.parent_id.is_not(None)))
    stmt = (select(Distributor).join(start, Distributor.id == start.c.id).order_by(start.c.tier))
    return list((await session.scalars(stmt)).all())


# ---------------------------------------------------------------- rewriting

def check_no_cycle(distributor: Distributor, new_parent: Distributor | None, field: str | None) -> None:
    if new_parent is None:
        return
    if new_parent.id == distributor.id:
        raise ServiceError(ErrorCode.SELF_BINDING, "A distributor cannot be their own upline.", field)
    if distributor.path and new_parent.path and new_parent.path.startswith(distributor.path):
        raise ServiceError(ErrorCode.CYCLE, "The new upline is in this distributor's own team; that would "
                                            "make a cycle.", field)


async def rewrite_subtree(session: AsyncSession, distributor: Distributor, new_parent: Distributor | None) -> None:
    """Put `distributor` under `new_parent` (None: at the top), rewriting the paths and depths of
    their whole subtree with one UPDATE (both databases). The caller checks for cycles."""
    old_path = distributor.path
    new_prefix = (new_parent.path if new_parent else "/") + f"{distributor.id}/"
    delta = (new_parent.depth + 1 if new_parent else 0) - distributor.depth
    await session.execute(
        update(Distributor)
        .where(in_subtree(Distributor.path, old_path))
        .values(path=literal(new_prefix) + func.substr(Distributor.path, len(old_path) + 1, type_=String),
                depth=Distributor.depth + delta)
        .execution_options(synchronize_session=False))
    await session.execute(update(Distributor).where(Distributor.id == distributor.id)
                          .values(parent_id=new_parent.id if new_parent else None)
                          .execution_options(synchronize_session=False))
    # The identity map may hold stale paths of moved rows: reload those rows in one query.
    loaded = [obj.id for obj in list(session.identity_map.values()) if isinstance(obj, Distributor)]
    if loaded:
        await session.execute(select(Distributor).where(Distributor.id.in_(loaded))
                              .execution_options(populate_existing=True))


async def attach_under(session: AsyncSession, distributor: Distributor, new_parent: Distributor) -> None:
    """Give a top-level distributor (and their subtree) an upline; cycle-checked."""
    check_no_cycle(distributor, new_parent, "upline")
    await rewrite_subtree(session, distributor, new_parent)
