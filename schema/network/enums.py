"""The enums of the distributor network."""

from __future__ import annotations

import strawberry

from models import network as m

JoinMode = strawberry.enum(m.JoinMode, name="JoinMode", description="How customers become distributors.")
BindingMode = strawberry.enum(m.BindingMode, name="BindingMode",
                              description="What an arrival through a distributor's code or link does.")
DistributorStatus = strawberry.enum(m.DistributorStatus, name="DistributorStatus")
ApplicationStatus = strawberry.enum(m.ApplicationStatus, name="ApplicationStatus")
ConditionMode = strawberry.enum(m.ConditionMode, name="ConditionMode",
                                description="Whether any one condition suffices or all are needed.")
GradeChangeKind = strawberry.enum(m.GradeChangeKind, name="GradeChangeKind")
ShareKind = strawberry.enum(m.ShareKind, name="ShareKind")
RegionLevel = strawberry.enum(m.RegionLevel, name="RegionLevel")
AgentStatus = strawberry.enum(m.AgentStatus, name="AgentStatus")
