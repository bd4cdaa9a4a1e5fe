"""The rule every text input obeys, whether written inline or sent as a variable.

No text reaches a resolver longer than MAX_TEXT_LENGTH characters, or with a NUL character
(PostgreSQL refuses it in text columns) or an unpaired surrogate (it cannot be encoded as
UTF-8, so neither database nor JSON response could hold it). Fields document and enforce
tighter limits in the services; this is the ceiling under all of them.
"""

from __future__ import annotations

from graphql import GraphQLError, StringValueNode, ValidationRule

MAX_TEXT_LENGTH = 10_000


def text_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT_LENGTH:
        return f"Text is limited to {MAX_TEXT_LENGTH} characters."
    if "\x00" in value:
        return "Text may not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text may not contain unpaired surrogate characters."
    return None


class TextLiteralRule(ValidationRule):
    """Refuses a document whose string literals break the text rule."""

    def enter_string_value(self, node: StringValueNode, *_args) -> None:
        problem = text_problem(node.value)
        if problem is not None:
            self.report_error(GraphQLError(problem, node, extensions={"code": "BAD_USER_INPUT"}))


def variables_problem(value: object, path: str = "$") -> str | None:
    """The first text value among the variables that breaks the rule, as `path: reason`."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return f"{where}: {problem}"
        elif isinstance(item, dict):
            for key, inner in item.items():
                problem = text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    return f"{where}: {problem}"
                stack.append((f"{where}.{key}", inner))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", inner) for i, inner in enumerate(item))
    return None
