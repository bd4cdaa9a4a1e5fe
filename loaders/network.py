"""Dataloaders and node fetchers of the distributor network."""

from __future__ import annotations

import strawberry

from loaders.base import KeyedLoader
from loaders.node import register_node
from services import binding as binding_service
from services import grade as grade_service
from services import region as region_service
from services.network import access as network_access
from services.network.team import team_sizes
from services.network.tree import distributors_by_ids


class DistributorByIdLoader(KeyedLoader):
    """Distributors by id, with no access check of its own: it serves fields of objects the
    viewer was already allowed to see; their private fields follow `services.network.access`."""

    fetch = staticmethod(distributors_by_ids)


class GradeByIdLoader(KeyedLoader):
    fetch = staticmethod(grade_service.grades_by_ids)


class RegionByIdLoader(KeyedLoader):
    fetch = staticmethod(region_service.regions_by_ids)


class TeamSizeByDistributorIdLoader(KeyedLoader):
    fetch = staticmethod(team_sizes)


# ---------------------------------------------------------------- nodes

async def fetch_distributor_node(info: strawberry.Info, pk: int):
    return await network_access.visible_distributor(info.context.session, info.context.viewer, pk)


async def fetch_application_node(info: strawberry.Info, pk: int):
    return await network_access.visible_application(info.context.session, info.context.viewer, pk)


async def fetch_grade_node(info: strawberry.Info, pk: int):
    return await GradeByIdLoader(info.context).load(pk)


async def fetch_region_node(info: strawberry.Info, pk: int):
    return await RegionByIdLoader(info.context).load(pk)


async def fetch_share_link_node(info: strawberry.Info, pk: int):
    return await binding_service.visible_share_link(info.context.session, info.context.viewer, pk)


async def fetch_agent_node(info: strawberry.Info, pk: int):
    return await region_service.visible_agent(info.context.session, info.context.viewer, pk)


register_node("Distributor", fetch_distributor_node)
register_node("DistributorApplication", fetch_application_node)
register_node("Grade", fetch_grade_node)
register_node("Region", fetch_region_node)
register_node("ShareLink", fetch_share_link_node)
register_node("RegionalAgent", fetch_agent_node)
