"""Schema extensions that wrap every operation, over HTTP and WebSocket alike."""

from __future__ import annotations

import logging
import time

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.types.graphql import OperationType
from strawberry.extensions import SchemaExtension

from core.operation import OperationScope, current_scope
from models.base import utcnow
from server.limits import operation_cost
from server.text_inputs import variables_problem

log = logging.getLogger("fenxiao.graphql")


def _result_errors(execution_context) -> list[GraphQLError]:
    result = execution_context.result
    errors = getattr(result, "errors", None) if result is not None else None
    return list(errors or execution_context.pre_execution_errors or [])


def _operation_type(execution_context) -> str:
    try:
        return execution_context.operation_type.value
    except RuntimeError:
        return "unknown"


class OperationScopeExtension(SchemaExtension):
    """One database session per operation: committed when it succeeds, rolled back otherwise."""

    async def on_operation(self):
        context = self.execution_context.context
        context.expire_viewer_if_due(utcnow())
        scope = OperationScope(context.state, is_write=self._is_mutation)
        current_scope.set(scope)
        try:
            yield
            await scope.finish(success=not _result_errors(self.execution_context))
        except BaseException:
            await scope.finish(success=False)
            raise
        finally:
            # set, not reset: a subscription's generator may be closed from another context.
            current_scope.set(None)

    def _is_mutation(self) -> bool:
        try:
            return self.execution_context.operation_type == OperationType.MUTATION
        except RuntimeError:
            return False


class TextVariablesExtension(SchemaExtension):
    """Refuses variables holding text that breaks the text rule (server/text_inputs.py); the
    same text written inline is refused by TextLiteralRule during validation."""

    def on_execute(self):
        ctx = self.execution_context
        problem = variables_problem(ctx.variables or {})
        if problem is not None:
            ctx.result = GraphQLExecutionResult(data=None, errors=[GraphQLError(
                f"Variable {problem}", extensions={"code": "BAD_USER_INPUT"})])
        yield


class QueryCostExtension(SchemaExtension):
    """Refuses operations whose cost passes the limit; echoes the cost in `extensions`."""

    def __init__(self, *, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_execute(self):
        ctx = self.execution_context
        schema = ctx.schema._schema
        self.cost = operation_cost(schema, ctx.graphql_document, ctx.operation_name, ctx.variables)
        if self.cost > self.max_cost:
            ctx.result = GraphQLExecutionResult(data=None, errors=[GraphQLError(
                f"This query costs {self.cost}, more than the limit of {self.max_cost}; "
                "ask for fewer items (lower `first`) or fewer nested lists.",
                extensions={"code": "QUERY_TOO_COSTLY", "cost": self.cost, "maxCost": self.max_cost},
            )])
        yield

    def get_results(self):
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "maximum": self.max_cost}}


class OperationLogExtension(SchemaExtension):
    """One structured log line and the metrics for every operation."""

    async def on_operation(self):
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        context = ctx.context
        duration = time.perf_counter() - started
        name = ctx.operation_name or "anonymous"
        op_type = _operation_type(ctx)
        errors = _result_errors(ctx)
        metrics = context.state.metrics
        metrics.operations.labels(name, op_type, context.transport).inc()
        metrics.operation_duration.labels(name, op_type).observe(duration)
        if errors:
            internal = any((e.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in errors)
            metrics.errors.labels("internal" if internal else "client").inc()
        log.info("graphql operation", extra={"fields": {
            "request_id": context.request_id,
            "transport": context.transport,
            "operation_name": name,
            "operation_type": op_type,
            "duration_ms": round(duration * 1000, 2),
            "viewer_id": context.viewer.user_id,
            "client": context.viewer.client.value,
            "errors": [e.message for e in errors][:5],
        }})
