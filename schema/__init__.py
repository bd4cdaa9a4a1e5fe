"""Builds the one GraphQL schema from every domain's types and resolvers."""

from __future__ import annotations

import logging
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from core.config import Settings
from core.errors import ServiceError
from schema.scalars import SCALAR_MAP

log = logging.getLogger("fenxiao.graphql")


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        """Log unexpected errors with the request id; expected ones are the client's business."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, (ServiceError, GraphQLError)):
                continue
            context = getattr(execution_context, "context", None)
            log.error("unexpected error in %s", error.path, exc_info=original, extra={"fields": {
                "request_id": getattr(context, "request_id", None), "path": error.path}})


def _root_types():
    from resolvers.account import AccountMutation, AccountQuery
    from resolvers.audit import AuditQuery
    from resolvers.catalog import CatalogMutation, CatalogQuery
    from resolvers.commission import CommissionMutation, CommissionQuery
    from resolvers.network import NetworkMutation, NetworkQuery
    from resolvers.node import NodeQuery
    from resolvers.order import OrderMutation, OrderQuery
    from resolvers.withdrawal import WithdrawalMutation, WithdrawalQuery
    from resolvers.realtime import RealtimeSubscription
    from resolvers.wallet import WalletQuery

    query = merge_types("Query", (
        NodeQuery,
        AccountQuery,
        AuditQuery,
        NetworkQuery,
        WithdrawalQuery,
        OrderQuery,
        WalletQuery,
        CommissionQuery,
        CatalogQuery,
    ))
    mutation = merge_types("Mutation", (
        AccountMutation,
        NetworkMutation,
        WithdrawalMutation,
        OrderMutation,
        CommissionMutation,
        CatalogMutation,
    ))
    subscription = merge_types("Subscription", (RealtimeSubscription,))
    return query, mutation, subscription


def build_schema(settings: Settings) -> Schema:
    from server.cost import mutation_limit_rule
    from server.extensions import (
        ErrorPresentationExtension,
        OperationLogExtension,
        OperationScopeExtension,
        QueryCostExtension,
    )

    query, mutation, subscription = _root_types()
    # Factories, not instances: every operation gets its own extension objects.
    mutation_rule = mutation_limit_rule(settings.max_mutations_per_request)
    extensions = [
        OperationLogExtension,
        OperationScopeExtension,
        ErrorPresentationExtension,
        partial(QueryDepthLimiter, max_depth=settings.max_query_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(AddValidationRules, [mutation_rule]),
        partial(QueryCostExtension, max_cost=settings.max_query_cost),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP,
            disable_field_suggestions=not settings.field_suggestions,
        ),
    )


def export_sdl() -> str:
    """The schema as it is with the default settings, for schema.graphql."""
    return build_schema(Settings.from_env({"SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "x",
                                           "DATABASE_URL": "sqlite+aiosqlite://"})).as_str() + "\n"
