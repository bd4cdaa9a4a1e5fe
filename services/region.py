"""Regions (province / city / district, GB/T 2260 codes) and regional agents (区域代理)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.network import AgentStatus, Distributor, Region, RegionalAgent, RegionLevel
from services import audit
from services.network.tree import in_subtree, require_own_distributor

SAMPLE_FILE = Path(__file__).resolve().parent.parent / "data" / "regions.json"
LEVELS = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.DISTRICT)


async def load_regions(session: AsyncSession, path: Path | str = SAMPLE_FILE) -> int:
    """Load a region tree ({"regions": [{"code", "name", "children": [...]}, ...]}); idempotent.
    The sample ships with the project; the full national set loads from a file of the same shape."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    existing = set((await session.scalars(select(Region.id))).all())
    added = 0

    def walk(nodes, parent_id, parent_path, depth):
        nonlocal added
        for node in nodes:
            code = int(node["code"])
            region_path = f"{parent_path}{code}/"
            if code not in existing:
                session.add(Region(id=code, name=node["name"], level=LEVELS[depth], parent_id=parent_id,
                                   path=region_path))
                existing.add(code)
                added += 1
            walk(node.get("children") or [], code, region_path, depth + 1)

    walk(data["regions"], None, "/", 0)
    await session.flush()
    return added


async def children(session: AsyncSession, parent_id: int | None) -> list[Region]:
    stmt = select(Region).where(Region.parent_id.is_(None) if parent_id is None else Region.parent_id == parent_id)
    return list((await session.scalars(stmt.order_by(Region.id))).all())


async def regions_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Region]:
    return {r.id: r for r in await session.scalars(select(Region).where(Region.id.in_(ids)))}


async def get_region(session: AsyncSession, region_id: int, field: str = "regionCode") -> Region:
    region = await session.get(Region, region_id)
    if region is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No region has this code.", field)
    return region


async def _active_agent(session: AsyncSession, region_id: int) -> RegionalAgent | None:
    return await session.scalar(select(RegionalAgent).where(RegionalAgent.active_region_id == region_id))


async def apply_agent(session: AsyncSession, viewer: Viewer, *, region_id: int, note: str | None) -> RegionalAgent:
    """An active distributor applies to be the agent of a province, city or district."""
    distributor = await require_own_distributor(session, viewer, active=True)
    region = await get_region(session, region_id)
    if await _active_agent(session, region.id) is not None:
        raise ServiceError(ErrorCode.REGION_TAKEN, f"{region.name} already has an agent.", "regionCode")
    pending = await session.scalar(select(RegionalAgent.id).where(
        RegionalAgent.distributor_id == distributor.id, RegionalAgent.region_id == region.id,
        RegionalAgent.status == AgentStatus.PENDING))
    if pending is not None:
        raise ServiceError(ErrorCode.APPLICATION_PENDING, "You already applied for this region.", "regionCode")
    agent = RegionalAgent(distributor_id=distributor.id, region_id=region.id, status=AgentStatus.PENDING,
                          rate_bps=0, note=(note or "").strip() or None)
    session.add(agent)
    await session.flush()
    return agent


async def review_agent(session: AsyncSession, viewer: Viewer, *, agent_id: int, approve: bool,
                       rate_bps: int | None, starts_on: date | None, ends_on: date | None,
                       reason: str | None) -> RegionalAgent:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    agent = await session.scalar(select(RegionalAgent).where(RegionalAgent.id == agent_id).with_for_update())
    if agent is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No regional agent application has this id.", "agentId")
    if agent.status != AgentStatus.PENDING:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, f"This application is already {agent.status.value.lower()}.",
                           "agentId")
    if approve:
        if rate_bps is None:
            raise ServiceError(ErrorCode.REQUIRED, "Set the region commission rate.", "rateBps")
        if starts_on is None or ends_on is None:
            raise ServiceError(ErrorCode.REQUIRED, "Set the term's start and end dates.", "endsOn")
        if ends_on <= starts_on:
            raise ServiceError(ErrorCode.INVALID, "The term must end after it starts.", "endsOn")
        if await _active_agent(session, agent.region_id) is not None:
            raise ServiceError(ErrorCode.REGION_TAKEN, "This region already has an active agent.", "agentId")
        agent.status = AgentStatus.ACTIVE
        agent.active_region_id = agent.region_id
        agent.rate_bps, agent.starts_on, agent.ends_on = rate_bps, starts_on, ends_on
    else:
        if not (reason or "").strip():
            raise ServiceError(ErrorCode.REQUIRED, "Say why the application is rejected.", "reason")
        agent.status = AgentStatus.REJECTED
    agent.reviewed_by = actor_id
    agent.reviewed_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="regional_agent." + ("approve" if approve else "reject"),
                       subject_type="RegionalAgent", subject_id=agent.id, reason=(reason or "").strip() or None,
                       details={"region": agent.region_id, "rate_bps": agent.rate_bps})
    return agent


async def end_agent(session: AsyncSession, viewer: Viewer, *, agent_id: int, reason: str) -> RegionalAgent:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    if not (reason or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the term ends.", "reason")
    agent = await session.get(RegionalAgent, agent_id)
    if agent is None or agent.status != AgentStatus.ACTIVE:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, "Only an active agent's term can end.", "agentId")
    agent.status = AgentStatus.ENDED
    agent.active_region_id = None
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="regional_agent.end", subject_type="RegionalAgent",
                       subject_id=agent.id, reason=reason.strip())
    return agent


async def end_expired_terms(session: AsyncSession, today: date | None = None) -> int:
    """The scheduled job: end the terms whose end date has passed, freeing their regions."""
    today = today or utcnow().date()
    result = await session.execute(
        update(RegionalAgent).where(RegionalAgent.status == AgentStatus.ACTIVE, RegionalAgent.ends_on < today)
        .values(status=AgentStatus.ENDED, active_region_id=None).execution_options(synchronize_session=False))
    return result.rowcount


async def my_agencies(session: AsyncSession, viewer: Viewer) -> list[RegionalAgent]:
    distributor = await require_own_distributor(session, viewer)
    return list((await session.scalars(select(RegionalAgent).where(RegionalAgent.distributor_id == distributor.id)
                                       .order_by(RegionalAgent.id.desc()))).all())


async def list_agents(session: AsyncSession, viewer: Viewer, *, status: AgentStatus | None, first: int | None,
                      after: str | None) -> Page:
    viewer.require(Permission.MANAGE_DISTRIBUTORS)
    stmt = select(RegionalAgent)
    if status is not None:
        stmt = stmt.where(RegionalAgent.status == status)
    return await paginate(session, stmt, [SortKey(RegionalAgent.id, descending=True)], first=first, after=after)


async def visible_agent(session: AsyncSession, viewer: Viewer, agent_id: int) -> RegionalAgent | None:
    """A regional agent record as a node: to the distributor it belongs to and to staff."""
    if viewer.user_id is None:
        return None
    agent = await session.get(RegionalAgent, agent_id)
    if agent is None:
        return None
    if viewer.has(Permission.MANAGE_DISTRIBUTORS):
        return agent
    owner = await session.get(Distributor, agent.distributor_id)
    return agent if owner is not None and owner.user_id == viewer.user_id else None


async def agency_regions(session: AsyncSession, user_id: int, today: date | None = None) -> list[Region]:
    """The regions a user is the active agent of today: orders shipped into any region whose path
    starts with one of these are visible to the agent and earn the region rate."""
    today = today or utcnow().date()
    return list((await session.scalars(
        select(Region).join(RegionalAgent, RegionalAgent.region_id == Region.id)
        .join(Distributor, Distributor.id == RegionalAgent.distributor_id)
        .where(Distributor.user_id == user_id, RegionalAgent.status == AgentStatus.ACTIVE,
               RegionalAgent.starts_on <= today, RegionalAgent.ends_on >= today))).all())


async def active_agents_for_region(session: AsyncSession, region_id: int, today: date | None = None
                                   ) -> list[RegionalAgent]:
    """The active agents of a district and of its city and province, nearest region first, in one
    query (for the commission engine: each earns their region rate)."""
    today = today or utcnow().date()
    region = await session.get(Region, region_id)
    if region is None:
        return []
    chain = [int(p) for p in region.path.strip("/").split("/")][::-1]
    agents = {a.region_id: a for a in await session.scalars(select(RegionalAgent).where(
        RegionalAgent.active_region_id.in_(chain), RegionalAgent.starts_on <= today,
        RegionalAgent.ends_on >= today))}
    return [agents[r] for r in chain if r in agents]


async def require_region_access(session: AsyncSession, viewer: Viewer, region: Region) -> None:
    """Staff, or the active agent (within their term) of this region or a region containing it."""
    user_id = viewer.require_user()
    if viewer.has(Permission.MANAGE_DISTRIBUTORS):
        return
    today = utcnow().date()
    ancestor_ids = [int(p) for p in region.path.strip("/").split("/")]
    agent = await session.scalar(
        select(RegionalAgent.id).join(Distributor, Distributor.id == RegionalAgent.distributor_id)
        .where(Distributor.user_id == user_id, RegionalAgent.status == AgentStatus.ACTIVE,
               RegionalAgent.region_id.in_(ancestor_ids), RegionalAgent.starts_on <= today,
               RegionalAgent.ends_on >= today).limit(1))
    if agent is None:
        raise PermissionDenied("Only this region's agent and staff can see it.")


async def region_distributors(session: AsyncSession, viewer: Viewer, *, region_id: int, first: int | None,
                              after: str | None) -> Page:
    """The distributors registered in a region (and the regions inside it)."""
    region = await get_region(session, region_id)
    await require_region_access(session, viewer, region)
    stmt = (select(Distributor).join(Region, Region.id == Distributor.region_id)
            .where(in_subtree(Region.path, region.path)))
    return await paginate(session, stmt, [SortKey(Distributor.id)], first=first, after=after)
