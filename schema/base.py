"""Conventions every domain uses: Node, userErrors, Relay connections, shared enums."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry

from auth.permissions import ClientKind as ClientKindEnum
from auth.permissions import Permission as PermissionEnum
from core.errors import ErrorCode as ErrorCodeEnum
from core.ids import encode_global_id

ErrorCode = strawberry.enum(ErrorCodeEnum, name="ErrorCode",
                            description="What went wrong, for clients to switch on.")
Permission = strawberry.enum(PermissionEnum, name="Permission", description="A staff permission.")
ClientKind = strawberry.enum(ClientKindEnum, name="ClientKind",
                             description="The client a request comes from.")


@strawberry.interface(description="An object with a global id, fetchable with node(id:).")
class Node:
    @strawberry.field(description="The global id.")
    def id(self, info: strawberry.Info) -> strawberry.ID:
        return strawberry.ID(encode_global_id(info._raw_info.parent_type.name, self.id))


@strawberry.type(description="An expected failure of a mutation.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    code: ErrorCode
    message: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_page(cls, page) -> Connection:
        edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, page.items, strict=True)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )
