"""Static limits on a document: depth, aliases, mutations per request and query cost.

All four are measured by one walk over the document in which each fragment is measured once
and its totals reused at every spread, so the work is linear in the document's size however
the fragments nest (a document that spreads ten fragments ten times each must not be expanded
ten billion times to find out it is too costly). The totals are those of the expanded
operation — what would run — capped so the numbers themselves stay small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from core.pagination import MAX_PAGE_SIZE

DEFAULT_PAGE_SIZE = 20
_CAP = 10**12  # far above any limit; keeps products of nested lists from growing without bound


@dataclass(frozen=True)
class Totals:
    cost: int = 0      # each field 1; a field taking `first` multiplies what it selects by it
    depth: int = 0     # the deepest chain of nested fields
    aliases: int = 0
    fields: int = 0    # fields at this level, through fragments (root mutations for the limit)

    def __add__(self, other: Totals) -> Totals:
        return Totals(min(self.cost + other.cost, _CAP), max(self.depth, other.depth),
                      min(self.aliases + other.aliases, _CAP), min(self.fields + other.fields, _CAP))


def _first_value(node: FieldNode, field_def, variables: dict[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0) if len(value.value) < 12 else _CAP
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(given, 0) if isinstance(given, int) and not isinstance(given, bool) else DEFAULT_PAGE_SIZE
        return DEFAULT_PAGE_SIZE
    default = field_def.args["first"].default_value
    return default if isinstance(default, int) else DEFAULT_PAGE_SIZE


class DocumentMeasure:
    def __init__(self, schema: GraphQLSchema, document, variables: dict[str, Any] | None = None) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._measured: dict[str, Totals] = {}
        self._in_progress: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Totals:
        root = self.schema.get_root_type(operation.operation)
        return self._selection_set(root, operation.selection_set)

    def _selection_set(self, parent_type, selection_set: SelectionSetNode | None) -> Totals:
        totals = Totals()
        if selection_set is None:
            return totals
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                totals = totals + self._field(parent_type, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent_type
                totals = totals + self._selection_set(inner or parent_type, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                totals = totals + self._fragment(selection.name.value)
        return totals

    def _field(self, parent_type, node: FieldNode) -> Totals:
        name = node.name.value
        alias = 1 if node.alias is not None else 0
        if name == "__typename":
            return Totals(depth=1, aliases=alias)
        fields = parent_type.fields if isinstance(parent_type, (GraphQLObjectType, GraphQLInterfaceType)) else {}
        field_def = fields.get(name)
        child_type = get_named_type(field_def.type) if field_def is not None else None
        child = self._selection_set(child_type, node.selection_set)
        multiplier = _first_value(node, field_def, self.variables) if field_def and "first" in field_def.args else 1
        return Totals(cost=min(1 + multiplier * child.cost, _CAP), depth=1 + child.depth,
                      aliases=min(alias + child.aliases, _CAP), fields=1)

    def _fragment(self, name: str) -> Totals:
        if name in self._measured:
            return self._measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._in_progress:  # unknown or cyclic: validation reports it
            return Totals()
        self._in_progress.add(name)
        inner = self.schema.get_type(fragment.type_condition.name.value)
        totals = self._selection_set(inner, fragment.selection_set)
        self._in_progress.discard(name)
        self._measured[name] = totals
        return totals


def _operations(document, operation_name: str | None) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    return operations


def operation_cost(schema: GraphQLSchema, document, operation_name: str | None,
                   variables: dict[str, Any] | None) -> int:
    operations = _operations(document, operation_name)
    if not operations:
        return 0
    return DocumentMeasure(schema, document, variables).operation(operations[0]).cost


def shape_limits_rule(*, max_depth: int, max_aliases: int, max_mutations: int) -> type[ValidationRule]:
    """A validation rule refusing operations too deep, with too many aliases, or with too many
    mutations (aliases and fragments included)."""

    class ShapeLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measure = DocumentMeasure(context.schema, context.document)
            for operation in _operations(context.document, None):
                if context.schema.get_root_type(operation.operation) is None:
                    continue
                totals = measure.operation(operation)
                name = operation.name.value if operation.name else "anonymous"
                if totals.depth > max_depth:
                    context.report_error(GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {max_depth}", operation,
                        extensions={"code": "QUERY_TOO_DEEP"}))
                if totals.aliases > max_aliases:
                    context.report_error(GraphQLError(
                        f"{totals.aliases} aliases found. Allowed: {max_aliases}", operation,
                        extensions={"code": "TOO_MANY_ALIASES"}))
                if operation.operation == OperationType.MUTATION and totals.fields > max_mutations:
                    context.report_error(GraphQLError(
                        f"{totals.fields} mutations in one request; at most {max_mutations} are allowed.",
                        operation, extensions={"code": "TOO_MANY_MUTATIONS"}))

    return ShapeLimitsRule


__all__ = ["MAX_PAGE_SIZE", "DocumentMeasure", "operation_cost", "shape_limits_rule"]
