"""Assembles the one GraphQL schema from every domain's root resolvers, with the limits and
extensions every operation runs under. It sits above `resolvers/` so that importing a type
never reaches a root resolver."""

from __future__ import annotations

from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, DisableIntrospection, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from core.config import Settings
from resolvers.account import AccountMutation, AccountQuery
from resolvers.audit import AuditQuery
from resolvers.catalog import CatalogMutation, CatalogQuery
from resolvers.commission import CommissionMutation, CommissionQuery
from resolvers.network import NetworkMutation, NetworkQuery
from resolvers.node import NodeQuery
from resolvers.order import OrderMutation, OrderQuery
from resolvers.realtime import RealtimeSubscription
from resolvers.wallet import WalletQuery
from resolvers.withdrawal import WithdrawalMutation, WithdrawalQuery
from schema.scalars import SCALAR_MAP
from server.extensions import (
    OperationLogExtension,
    OperationScopeExtension,
    QueryCostExtension,
    TextVariablesExtension,
)
from server.errors import present_errors
from server.limits import shape_limits_rule
from server.text_inputs import TextLiteralRule

class Schema(strawberry.Schema):
    suggestions: bool = True

    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        """Every error of every transport passes here once, before it is sent."""
        context = getattr(execution_context, "context", None)
        present_errors(errors, getattr(context, "request_id", None), suggestions=self.suggestions)


def _root_types():
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
    query, mutation, subscription = _root_types()
    # Factories, not instances: every operation gets its own extension objects.
    shape_rule = shape_limits_rule(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases,
                                   max_mutations=settings.max_mutations_per_request)
    extensions = [
        OperationLogExtension,
        OperationScopeExtension,
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(AddValidationRules, [shape_rule, TextLiteralRule]),
        TextVariablesExtension,
        partial(QueryCostExtension, max_cost=settings.max_query_cost),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    schema = Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP,
            disable_field_suggestions=not settings.field_suggestions,
        ),
    )
    schema.suggestions = settings.field_suggestions
    return schema


def export_sdl() -> str:
    """The schema as it is with the default settings, for schema.graphql."""
    return build_schema(Settings.from_env({"SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "x",
                                           "DATABASE_URL": "sqlite+aiosqlite://"})).as_str() + "\n"
