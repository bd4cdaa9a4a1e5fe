"""The distributor network: program, applications, states, teams, grades, binding, regions."""

from __future__ import annotations

import strawberry

from core.errors import ErrorCode, ServiceError
from core.ids import encode_global_id
from resolvers.base import decode_id, in_savepoint, region_id as _region_id
from schema.base import Connection, UserError
from schema.network import (
    AgentStatus,
    ApplicationStatus,
    ArriveInput,
    ArrivePayload,
    BindingReleaseInput,
    BindingReleasePayload,
    CustomerBinding,
    Distributor,
    DistributorApplication,
    DistributorApplicationPayload,
    DistributorApplicationReviewInput,
    DistributorApplyInput,
    DistributorGradeInput,
    DistributorMoveInput,
    DistributorPayload,
    DistributorProgram,
    DistributorProgramInput,
    DistributorProgramPayload,
    DistributorStatus,
    DistributorStatusInput,
    Grade,
    GradeChange,
    GradeInput,
    GradePayload,
    Region,
    RegionalAgent,
    RegionalAgentApplyInput,
    RegionalAgentEndInput,
    RegionalAgentPayload,
    RegionalAgentReviewInput,
    ShareLink,
    ShareLinkCreateInput,
    ShareLinkPayload,
    Team,
)
from services import binding as binding_service
from services import grade as grade_service
from services import region as region_service
from services.network import applications as application_service
from services.network import listing as listing_service
from services.network import placement as placement_service
from services.network import program as program_service
from services.network import status as status_service
from services.network import team as team_service
from services.network.tree import distributor_for_user

__all__ = ["NetworkMutation", "NetworkQuery"]


def _given(input_obj, mapping: dict[str, str]) -> dict:
    """The input fields that were given, renamed to model attributes."""
    values = {}
    for attr, target in mapping.items():
        value = getattr(input_obj, attr)
        if value is not strawberry.UNSET:
            values[target] = value
    return values


PROGRAM_FIELDS = {
    "join_mode": "join_mode", "require_real_name": "require_real_name", "agreement_text": "agreement_text",
    "agreement_version": "agreement_version", "binding_mode": "binding_mode", "protection_days": "protection_days",
    "self_purchase_commission": "self_purchase_commission", "commission_depth": "commission_depth",
    "threshold_sales": "threshold_sales_fen", "threshold_orders": "threshold_orders",
    "threshold_product_id": "threshold_product_id", "threshold_mode": "threshold_mode",
}
GRADE_FIELDS = {
    "name": "name", "level": "level", "tier1_rate": "tier1_rate_bps", "tier2_rate": "tier2_rate_bps",
    "tier3_rate": "tier3_rate_bps", "discount": "discount_bps", "condition_mode": "condition_mode",
    "min_personal_sales": "min_personal_sales_fen", "min_personal_orders": "min_personal_orders",
    "min_team_sales": "min_team_sales_fen", "min_team_orders": "min_team_orders",
    "min_direct_members": "min_direct_members", "min_team_size": "min_team_size", "is_partner": "is_partner",
    "team_bonus_rate": "team_bonus_bps",
}
NOT_NULL_PROGRAM = {"join_mode", "require_real_name", "agreement_text", "agreement_version", "binding_mode",
                    "self_purchase_commission", "commission_depth", "threshold_mode", "form_fields"}
NOT_NULL_GRADE = {"name", "level", "tier1_rate_bps", "tier2_rate_bps", "tier3_rate_bps", "discount_bps",
                  "condition_mode", "is_partner", "team_bonus_bps"}


def _check_not_null(values: dict, names: set[str]) -> None:
    for key in names:
        if key in values and values[key] is None:
            camel = key.split("_")[0] + "".join(p.title() for p in key.split("_")[1:])
            raise ServiceError(ErrorCode.REQUIRED, f"{camel} cannot be null.", camel)


@strawberry.type
class NetworkQuery:
    @strawberry.field(description="The distributor program's configuration (join mode, agreement, form fields).")
    async def distributor_program(self, info: strawberry.Info) -> DistributorProgram:
        return await program_service.get_program(info.context.session)

    @strawberry.field(description="Your distributor record, if you applied or joined.")
    async def my_distributor(self, info: strawberry.Info) -> Distributor | None:
        viewer = info.context.viewer
        if viewer.user_id is None:
            return None
        return await distributor_for_user(info.context.session, viewer.user_id)

    @strawberry.field(description="Your applications, newest first.")
    async def my_distributor_applications(self, info: strawberry.Info, first: int | None = 20,
                                          after: str | None = None) -> Connection[DistributorApplication]:
        page = await listing_service.my_applications(info.context.session, info.context.viewer,
                                                     first=first, after=after)
        return Connection[DistributorApplication].from_page(page)

    @strawberry.field(description="Applications, newest first (MANAGE_DISTRIBUTORS).")
    async def distributor_applications(self, info: strawberry.Info, status: ApplicationStatus | None = None,
                                       first: int | None = 20, after: str | None = None
                                       ) -> Connection[DistributorApplication]:
        page = await listing_service.list_applications(info.context.session, info.context.viewer, status=status,
                                                       first=first, after=after)
        return Connection[DistributorApplication].from_page(page)

    @strawberry.field(description="Distributors, newest first (MANAGE_DISTRIBUTORS).")
    async def distributors(self, info: strawberry.Info, status: DistributorStatus | None = None,
                           first: int | None = 20, after: str | None = None) -> Connection[Distributor]:
        page = await listing_service.list_distributors(info.context.session, info.context.viewer, status=status,
                                                       first=first, after=after)
        return Connection[Distributor].from_page(page)

    @strawberry.field(description="A team: yours by default; an upline may ask for a member of their own "
                                  "subtree; staff (MANAGE_DISTRIBUTORS) for anyone.")
    async def team(self, info: strawberry.Info, distributor_id: strawberry.ID | None = None) -> Team:
        session = info.context.session
        pk = None if distributor_id is None else decode_id(distributor_id, "Distributor", "distributorId")
        root = await team_service.team_root(session, info.context.viewer, pk)
        return Team(root=root, counts=await team_service.depth_counts(session, root))

    @strawberry.field(description="The grades, lowest level first.")
    async def grades(self, info: strawberry.Info) -> list[Grade]:
        return await grade_service.list_grades(info.context.session)

    @strawberry.field(description="Grade changes, newest first: yours by default, anyone's for staff.")
    async def grade_history(self, info: strawberry.Info, distributor_id: strawberry.ID | None = None,
                            first: int | None = 20, after: str | None = None) -> Connection[GradeChange]:
        pk = None if distributor_id is None else decode_id(distributor_id, "Distributor", "distributorId")
        page = await grade_service.grade_history(info.context.session, info.context.viewer, distributor_id=pk,
                                                 first=first, after=after)
        return Connection[GradeChange].from_page(page)

    @strawberry.field(description="Your current binding to a distributor; staff may ask about any customer.")
    async def customer_binding(self, info: strawberry.Info, customer_id: strawberry.ID | None = None
                               ) -> CustomerBinding | None:
        pk = None if customer_id is None else decode_id(customer_id, "User", "customerId")
        return await binding_service.binding_for(info.context.session, info.context.viewer, pk)

    @strawberry.field(description="Your QR scenes and share links with their visit counts.")
    async def my_share_links(self, info: strawberry.Info, first: int | None = 20, after: str | None = None
                             ) -> Connection[ShareLink]:
        page = await binding_service.my_share_links(info.context.session, info.context.viewer,
                                                    first=first, after=after)
        return Connection[ShareLink].from_page(page)

    @strawberry.field(description="Provinces (no parentCode), or the cities / districts of a region.")
    async def regions(self, info: strawberry.Info, parent_code: str | None = None) -> list[Region]:
        return await region_service.children(info.context.session, _region_id(parent_code, "parentCode"))

    @strawberry.field(description="Your regional agent applications and terms.")
    async def my_regional_agencies(self, info: strawberry.Info) -> list[RegionalAgent]:
        return await region_service.my_agencies(info.context.session, info.context.viewer)

    @strawberry.field(description="Regional agents and applications (MANAGE_DISTRIBUTORS).")
    async def regional_agents(self, info: strawberry.Info, status: AgentStatus | None = None,
                              first: int | None = 20, after: str | None = None) -> Connection[RegionalAgent]:
        page = await region_service.list_agents(info.context.session, info.context.viewer, status=status,
                                                first=first, after=after)
        return Connection[RegionalAgent].from_page(page)

    @strawberry.field(description="Distributors registered in a region: for its agent and staff.")
    async def region_distributors(self, info: strawberry.Info, region_code: str, first: int | None = 20,
                                  after: str | None = None) -> Connection[Distributor]:
        page = await region_service.region_distributors(info.context.session, info.context.viewer,
                                                        region_id=_region_id(region_code), first=first, after=after)
        return Connection[Distributor].from_page(page)


@strawberry.type
class NetworkMutation:
    @strawberry.mutation(description="Change the distributor program (MANAGE_DISTRIBUTORS). Audited.")
    async def distributor_program_update(self, info: strawberry.Info, input: DistributorProgramInput
                                         ) -> DistributorProgramPayload:
        async def action(session):
            values = _given(input, PROGRAM_FIELDS)
            if values.get("threshold_product_id") is not None:
                values["threshold_product_id"] = decode_id(values["threshold_product_id"], "Product",
                                                           "thresholdProductId")
            if input.form_fields is not strawberry.UNSET:
                values["form_fields"] = [{"key": f.key.strip(), "label": f.label.strip(), "required": f.required}
                                         for f in input.form_fields or []]
            _check_not_null(values, NOT_NULL_PROGRAM)
            return await program_service.update_program(session, info.context.viewer, values)

        program, errors = await in_savepoint(info, action)
        return DistributorProgramPayload(program=program, user_errors=errors)

    @strawberry.mutation(description="Apply to become a distributor. No entry fee exists in any mode.")
    async def distributor_apply(self, info: strawberry.Info, input: DistributorApplyInput
                                ) -> DistributorApplicationPayload:
        async def action(session):
            return await application_service.apply(
                session, info.context.viewer, info.context.state.settings,
                form_data={v.key: v.value for v in input.form_data}, agreement_version=input.agreement_version,
                real_name=input.real_name, id_card_number=input.id_card_number, invite_code=input.invite_code,
                region_id=_region_id(input.region_code))

        application, errors = await in_savepoint(info, action)
        return DistributorApplicationPayload(application=application, user_errors=errors)

    @strawberry.mutation(description="Approve or reject (with a reason) an application (MANAGE_DISTRIBUTORS).")
    async def distributor_application_review(self, info: strawberry.Info, input: DistributorApplicationReviewInput
                                             ) -> DistributorApplicationPayload:
        async def action(session):
            pk = decode_id(input.application_id, "DistributorApplication", "applicationId")
            return await application_service.review_application(session, info.context.viewer, application_id=pk,
                                                            approve=input.approve, reason=input.reason)

        application, errors = await in_savepoint(info, action)
        return DistributorApplicationPayload(application=application, user_errors=errors)

    @strawberry.mutation(description="Freeze, unfreeze or blacklist a distributor (MANAGE_DISTRIBUTORS). Audited.")
    async def distributor_status_update(self, info: strawberry.Info, input: DistributorStatusInput
                                        ) -> DistributorPayload:
        async def action(session):
            pk = decode_id(input.distributor_id, "Distributor", "distributorId")
            return await status_service.change_status(session, info.context.viewer, distributor_id=pk,
                                                       status=input.status, reason=input.reason)

        distributor, errors = await in_savepoint(info, action)
        return DistributorPayload(distributor=distributor, user_errors=errors)

    @strawberry.mutation(description="Move a distributor with their whole subtree under another upline "
                                     "(MANAGE_DISTRIBUTORS). Cycle-checked, audited; earned commission stays.")
    async def distributor_move(self, info: strawberry.Info, input: DistributorMoveInput) -> DistributorPayload:
        async def action(session):
            pk = decode_id(input.distributor_id, "Distributor", "distributorId")
            parent = None if input.new_upline_id is None else decode_id(input.new_upline_id, "Distributor",
                                                                        "newUplineId")
            return await placement_service.move_subtree(session, info.context.viewer, distributor_id=pk,
                                                      new_parent_id=parent, reason=input.reason)

        distributor, errors = await in_savepoint(info, action)
        return DistributorPayload(distributor=distributor, user_errors=errors)

    @strawberry.mutation(description="Arrive through an invite code, QR scene or share link: records the visit "
                                     "and binds you to the distributor when the binding mode allows.")
    async def arrive(self, info: strawberry.Info, input: ArriveInput) -> ArrivePayload:
        arrival, errors = await in_savepoint(info, lambda s: binding_service.arrive(
            s, info.context.viewer, invite_code=input.invite_code, scene=input.scene, share_token=input.share_token))
        if arrival is None:
            return ArrivePayload(user_errors=errors)
        reason = None
        if arrival.code is not None:
            reason = UserError(field=None, code=arrival.code, message=arrival.message)
        product_id = arrival.share_link.product_id if arrival.share_link else None
        return ArrivePayload(bound=arrival.bound, reason=reason, binding=arrival.binding,
                             shared_product_id=None if product_id is None else strawberry.ID(
                                 encode_global_id("Product", product_id)),
                             user_errors=[reason] if reason else [])

    @strawberry.mutation(description="Create a QR scene value or share link (optionally for a product).")
    async def share_link_create(self, info: strawberry.Info, input: ShareLinkCreateInput) -> ShareLinkPayload:
        async def action(session):
            product_id = None if input.product_id is None else decode_id(input.product_id, "Product", "productId")
            return await binding_service.create_share_link(session, info.context.viewer, kind=input.kind,
                                                           product_id=product_id)

        link, errors = await in_savepoint(info, action)
        return ShareLinkPayload(share_link=link, user_errors=errors)

    @strawberry.mutation(description="Release a customer's binding (MANAGE_DISTRIBUTORS). Audited.")
    async def customer_binding_release(self, info: strawberry.Info, input: BindingReleaseInput
                                       ) -> BindingReleasePayload:
        async def action(session):
            pk = decode_id(input.customer_id, "User", "customerId")
            return await binding_service.release(session, info.context.viewer, customer_id=pk, reason=input.reason)

        released, errors = await in_savepoint(info, action)
        return BindingReleasePayload(released=released is not None, user_errors=errors)

    @strawberry.mutation(description="Create a grade (MANAGE_DISTRIBUTORS).")
    async def grade_create(self, info: strawberry.Info, input: GradeInput) -> GradePayload:
        async def action(session):
            values = _given(input, GRADE_FIELDS)
            _check_not_null(values, NOT_NULL_GRADE)
            for key, field in (("name", "name"), ("level", "level")):
                if key not in values:
                    raise ServiceError(ErrorCode.REQUIRED, f"A grade needs a {field}.", field)
            return await grade_service.create_grade(session, info.context.viewer, values)

        grade, errors = await in_savepoint(info, action)
        return GradePayload(grade=grade, user_errors=errors)

    @strawberry.mutation(description="Change a grade (MANAGE_DISTRIBUTORS). Audited.")
    async def grade_update(self, info: strawberry.Info, grade_id: strawberry.ID, input: GradeInput) -> GradePayload:
        async def action(session):
            values = _given(input, GRADE_FIELDS)
            _check_not_null(values, NOT_NULL_GRADE)
            pk = decode_id(grade_id, "Grade", "gradeId")
            return await grade_service.update_grade(session, info.context.viewer, pk, values)

        grade, errors = await in_savepoint(info, action)
        return GradePayload(grade=grade, user_errors=errors)

    @strawberry.mutation(description="Set a distributor's grade by staff override, with a reason. Audited.")
    async def distributor_grade_set(self, info: strawberry.Info, input: DistributorGradeInput) -> DistributorPayload:
        async def action(session):
            pk = decode_id(input.distributor_id, "Distributor", "distributorId")
            grade_pk = decode_id(input.grade_id, "Grade", "gradeId")
            return await grade_service.set_grade(session, info.context.viewer, distributor_id=pk,
                                                 grade_id=grade_pk, reason=input.reason)

        distributor, errors = await in_savepoint(info, action)
        return DistributorPayload(distributor=distributor, user_errors=errors)

    @strawberry.mutation(description="Apply to be the regional agent (区域代理) of a province, city or district.")
    async def regional_agent_apply(self, info: strawberry.Info, input: RegionalAgentApplyInput
                                   ) -> RegionalAgentPayload:
        agent, errors = await in_savepoint(info, lambda s: region_service.apply_agent(
            s, info.context.viewer, region_id=_region_id(input.region_code), note=input.note))
        return RegionalAgentPayload(agent=agent, user_errors=errors)

    @strawberry.mutation(description="Approve (with rate and term) or reject a regional agent application.")
    async def regional_agent_review(self, info: strawberry.Info, input: RegionalAgentReviewInput
                                    ) -> RegionalAgentPayload:
        async def action(session):
            pk = decode_id(input.agent_id, "RegionalAgent", "agentId")
            return await region_service.review_agent(session, info.context.viewer, agent_id=pk,
                                                     approve=input.approve, rate_bps=input.rate,
                                                     starts_on=input.starts_on, ends_on=input.ends_on,
                                                     reason=input.reason)

        agent, errors = await in_savepoint(info, action)
        return RegionalAgentPayload(agent=agent, user_errors=errors)

    @strawberry.mutation(description="End a regional agent's term early (MANAGE_DISTRIBUTORS). Audited.")
    async def regional_agent_end(self, info: strawberry.Info, input: RegionalAgentEndInput) -> RegionalAgentPayload:
        async def action(session):
            pk = decode_id(input.agent_id, "RegionalAgent", "agentId")
            return await region_service.end_agent(session, info.context.viewer, agent_id=pk, reason=input.reason)

        agent, errors = await in_savepoint(info, action)
        return RegionalAgentPayload(agent=agent, user_errors=errors)

