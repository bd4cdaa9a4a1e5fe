"""Static limits computed from the document: query cost and mutations per request."""

from __future__ import annotations

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


def _first_value(node: FieldNode, field_def, variables: dict[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return int(given) if isinstance(given, int) else DEFAULT_PAGE_SIZE
        return DEFAULT_PAGE_SIZE
    default = field_def.args["first"].default_value
    return default if isinstance(default, int) else DEFAULT_PAGE_SIZE


def operation_cost(schema: GraphQLSchema, document, operation_name: str | None,
                   variables: dict[str, Any] | None) -> int:
    """Each field costs 1; a field taking `first` multiplies the cost of what it selects by it."""
    variables = variables or {}
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    return _selection_cost(schema, root, operation.selection_set, fragments, variables, frozenset())


def _selection_cost(schema, parent_type, selection_set: SelectionSetNode | None, fragments, variables,
                    seen: frozenset[str]) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            fields = parent_type.fields if isinstance(parent_type, (GraphQLObjectType, GraphQLInterfaceType)) else {}
            field_def = fields.get(name)
            if field_def is None:  # introspection meta fields
                total += 1
                continue
            multiplier = _first_value(selection, field_def, variables) if "first" in field_def.args else 1
            child_type = get_named_type(field_def.type)
            total += 1 + max(multiplier, 0) * _selection_cost(
                schema, child_type, selection.selection_set, fragments, variables, seen)
        elif isinstance(selection, InlineFragmentNode):
            inner = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent_type
            total += _selection_cost(schema, inner or parent_type, selection.selection_set, fragments, variables, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            inner = schema.get_type(fragment.type_condition.name.value) or parent_type
            total += _selection_cost(schema, inner, fragment.selection_set, fragments, variables, seen | {name})
    return total


def _count_root_fields(selection_set: SelectionSetNode, fragments, seen: frozenset[str]) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value != "__typename"
        elif isinstance(selection, InlineFragmentNode):
            count += _count_root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                count += _count_root_fields(fragments[name].selection_set, fragments, seen | {name})
    return count


def mutation_limit_rule(max_mutations: int) -> type[ValidationRule]:
    class MaxMutationsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode) and definition.operation == OperationType.MUTATION:
                    count = _count_root_fields(definition.selection_set, fragments, frozenset())
                    if count > max_mutations:
                        context.report_error(GraphQLError(
                            f"{count} mutations in one request; at most {max_mutations} are allowed.",
                            definition, extensions={"code": "TOO_MANY_MUTATIONS"}))

    return MaxMutationsRule


__all__ = ["MAX_PAGE_SIZE", "mutation_limit_rule", "operation_cost"]
