"""How an error reaches a client, the same over HTTP and WebSocket.

Expected failures keep their message and get a `code`: ServiceError carries its own, errors
raised before execution (syntax, validation, variables) carry a precise one or
GRAPHQL_VALIDATION_FAILED. Anything else is logged with the request id and masked: the client
sees "Internal server error" and the request id, never SQL, parameters or a stack. With
suggestions switched off, no message hints at names of fields, arguments or enum values.
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from core.errors import ServiceError

log = logging.getLogger("fenxiao.graphql")

INTERNAL_ERROR_MESSAGE = "Internal server error"
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


def present_errors(errors: list[GraphQLError], request_id: str | None, *, suggestions: bool) -> None:
    """Rewrite each error in place as the client must see it (and log the unexpected ones)."""
    for error in errors:
        if not suggestions and "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)
        original = error.original_error
        extensions = dict(error.extensions or {})
        if isinstance(original, ServiceError):
            extensions["code"] = original.code.value
        elif original is None or isinstance(original, GraphQLError):
            if isinstance(original, GraphQLError) and original.extensions:
                extensions = {**extensions, **original.extensions}
            if error.path is None:
                parse_failed = error.message.startswith("Syntax Error")
                extensions.setdefault("code", "GRAPHQL_PARSE_FAILED" if parse_failed else "GRAPHQL_VALIDATION_FAILED")
        elif extensions.get("code") != "INTERNAL_SERVER_ERROR":
            log.error("unexpected error in %s", error.path, exc_info=original,
                      extra={"fields": {"request_id": request_id, "path": error.path}})
            error.message = INTERNAL_ERROR_MESSAGE
            extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        error.extensions = extensions or None
