"""The distributor network's GraphQL types: program, applications, distributors, teams, grades,
bindings, share links, regions and regional agents, one module per concern."""

from schema.network.agent import (
    RegionalAgent,
    RegionalAgentApplyInput,
    RegionalAgentEndInput,
    RegionalAgentPayload,
    RegionalAgentReviewInput,
)
from schema.network.binding import (
    ArriveInput,
    ArrivePayload,
    BindingReleaseInput,
    BindingReleasePayload,
    CustomerBinding,
    ShareLink,
    ShareLinkCreateInput,
    ShareLinkPayload,
)
from schema.network.distributor import (
    DepthCount,
    Distributor,
    DistributorApplication,
    DistributorApplicationPayload,
    DistributorApplicationReviewInput,
    DistributorApplyInput,
    DistributorMoveInput,
    DistributorPayload,
    DistributorStatusInput,
    FormValue,
    FormValueInput,
    Team,
)
from schema.network.enums import (
    AgentStatus,
    ApplicationStatus,
    BindingMode,
    ConditionMode,
    DistributorStatus,
    GradeChangeKind,
    JoinMode,
    RegionLevel,
    ShareKind,
)
from schema.network.grade import DistributorGradeInput, Grade, GradeChange, GradeInput, GradePayload
from schema.network.program import DistributorProgram, DistributorProgramInput, DistributorProgramPayload, FormField
from schema.network.region import Region

__all__ = [
    "AgentStatus", "ApplicationStatus", "ArriveInput", "ArrivePayload", "BindingMode", "BindingReleaseInput",
    "BindingReleasePayload", "ConditionMode", "CustomerBinding", "DepthCount", "Distributor",
    "DistributorApplication", "DistributorApplicationPayload", "DistributorApplicationReviewInput",
    "DistributorApplyInput", "DistributorGradeInput", "DistributorMoveInput", "DistributorPayload",
    "DistributorProgram", "DistributorProgramInput", "DistributorProgramPayload", "DistributorStatus",
    "DistributorStatusInput", "FormField", "FormValue", "FormValueInput", "Grade", "GradeChange",
    "GradeChangeKind", "GradeInput", "GradePayload", "JoinMode", "Region", "RegionLevel", "RegionalAgent",
    "RegionalAgentApplyInput", "RegionalAgentEndInput", "RegionalAgentPayload", "RegionalAgentReviewInput",
    "ShareKind", "ShareLink", "ShareLinkCreateInput", "ShareLinkPayload", "Team",
]
