"""GraphQL over HTTP, following the GraphQL-over-HTTP specification.

`application/graphql-response+json` clients get 4xx and no `data` for requests that never
reached execution (parse, validation, variable and limit errors); `application/json` clients
get 200 for them, as the specification asks for compatibility. Errors outside GraphQL
(method, media type, body size, malformed JSON) are JSON with an `errors` list as well.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from typing import Any

from graphql import GraphQLError
from strawberry.types.graphql import OperationType
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.exceptions import MissingQueryError
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from auth.permissions import ClientKind
from auth.viewer import load_viewer
from core.db import is_retryable
from server.bodies import BodyTooLarge, read_capped_body
from server.client_ip import request_client_ip
from server.context import Context
from server.persisted import document_hash

log = logging.getLogger("fenxiao.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code


def _json_response(body: dict[str, Any], status: int, media_type: str, request_id: str,
                   headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    all_headers = {"X-Request-Id": request_id, **(headers or {})}
    return Response(payload, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=all_headers)


def _parse_accept(header: str | None) -> str | None:
    """The response media type to use, or None when nothing acceptable is offered."""
    if not header or not header.strip():
        return APPLICATION_JSON
    offered: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            offered.append((-quality, index, media))
    for _, _, media in sorted(offered):
        if media == GRAPHQL_RESPONSE_JSON:
            return GRAPHQL_RESPONSE_JSON
        if media in (APPLICATION_JSON, "application/*", "*/*"):
            return APPLICATION_JSON
    return None


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GraphQLHTTP:
    def __init__(self, schema, state) -> None:
        self.schema = schema
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request_id = request_id[:64]
        media_type = APPLICATION_JSON
        try:
            if request.method not in ("GET", "POST"):
                raise HTTPError(405, "GraphQL accepts GET and POST requests only.",
                                {"Allow": "GET, POST"}, "METHOD_NOT_ALLOWED")
            if _wants_html(request):
                return HTMLResponse(get_graphql_ide_html("graphiql"), headers={"X-Request-Id": request_id})
            accepted = _parse_accept(request.headers.get("accept"))
            if accepted is None:
                raise HTTPError(406, "Accept application/graphql-response+json or application/json.",
                                code="NOT_ACCEPTABLE")
            media_type = accepted
            params = await self._read_params(request)
            return await self._execute(request, request_id, media_type, params)
        except HTTPError as exc:
            body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
            return _json_response(body, exc.status, media_type, request_id, exc.headers)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            body = {"errors": [{"message": "Internal server error",
                                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]}
            return _json_response(body, 500, media_type, request_id)

    async def _read_params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            raw = dict(request.query_params)
            params: dict[str, Any] = {"query": raw.get("query"), "operationName": raw.get("operationName")}
            for key in ("variables", "extensions"):
                if raw.get(key):
                    try:
                        params[key] = json.loads(raw[key])
                    except (ValueError, RecursionError) as exc:
                        raise HTTPError(400, f"The {key} parameter is not valid JSON.") from exc
            return self._check_params(params)

        content_type = request.headers.get("content-type")
        if not content_type:
            raise HTTPError(415, "Send the request as application/json.", code="UNSUPPORTED_MEDIA_TYPE")
        media, *content_params = [p.strip().lower() for p in content_type.split(";")]
        if media != APPLICATION_JSON:
            raise HTTPError(415, "Send the request as application/json.", code="UNSUPPORTED_MEDIA_TYPE")
        for param in content_params:
            if param.startswith("charset=") and param[8:].strip('"') not in ("utf-8", "utf8"):
                raise HTTPError(415, "Only the utf-8 charset is supported.", code="UNSUPPORTED_MEDIA_TYPE")
        limit = self.state.settings.max_body_bytes
        try:
            body = await read_capped_body(request, limit)
        except BodyTooLarge as exc:
            raise HTTPError(413, f"The request body is larger than {limit} bytes.", code="PAYLOAD_TOO_LARGE") from exc
        if not body:
            raise HTTPError(400, "The request body is empty.")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HTTPError(400, "The request body is not valid JSON.", code="INVALID_JSON") from exc
        except RecursionError as exc:
            raise HTTPError(400, "The request body is nested too deeply.", code="INVALID_JSON") from exc
        if isinstance(data, list):
            raise HTTPError(400, "Batched requests are not supported; send one operation per request.",
                            code="BATCHING_NOT_SUPPORTED")
        if not isinstance(data, dict):
            raise HTTPError(400, "The request body must be a JSON object.")
        return self._check_params(data)

    @staticmethod
    def _check_params(params: dict[str, Any]) -> dict[str, Any]:
        query = params.get("query")
        if query is not None and not isinstance(query, str):
            raise HTTPError(400, "The query parameter must be a string.")
        if params.get("operationName") is not None and not isinstance(params["operationName"], str):
            raise HTTPError(400, "The operationName parameter must be a string.")
        for key in ("variables", "extensions"):
            if params.get(key) is not None and not isinstance(params[key], dict):
                raise HTTPError(400, f"The {key} parameter must be a map.")
        return params

    async def _resolve_document(self, params: dict[str, Any]) -> tuple[str, str | None]:
        """The document to run, given or looked up by its persisted-query hash, and the hash to
        register once the document has validated (None when there is nothing to register)."""
        store = self.state.persisted_queries
        query = params.get("query")
        persisted = (params.get("extensions") or {}).get("persistedQuery")
        sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if isinstance(sha, str):
            sha = sha.lower()[:64]
            if query is None or store.only_known:
                known = await store.get(sha)
                if known is None:
                    if store.only_known:
                        raise _GraphQLRequestError("This document is not on the allow-list of known operations.",
                                                   "PERSISTED_QUERY_NOT_ALLOWED", status=400)
                    raise _GraphQLRequestError(
                        "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", status=200)
                return known, None
            if document_hash(query) != sha:
                raise HTTPError(400, "The persisted query hash does not match the query.",
                                code="PERSISTED_QUERY_HASH_MISMATCH")
        elif store.only_known:
            raise _GraphQLRequestError("Only persisted operations run here: send the document's sha256 hash "
                                       "in extensions.persistedQuery.", "PERSISTED_QUERY_NOT_ALLOWED", status=400)
        if query is None:
            raise HTTPError(400, "The query parameter is required.", code="QUERY_REQUIRED")
        if store.allowlist is not None and document_hash(query) not in store.allowlist:
            raise _GraphQLRequestError("This document is not on the allow-list of known operations.",
                                       "PERSISTED_QUERY_NOT_ALLOWED", status=400)
        return query, sha if isinstance(sha, str) else None

    async def _execute(self, request: Request, request_id: str, media_type: str,
                       params: dict[str, Any]) -> Response:
        strict = media_type == GRAPHQL_RESPONSE_JSON
        try:
            query, register_hash = await self._resolve_document(params)
        except _GraphQLRequestError as exc:
            body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
            return _json_response(body, exc.status if strict else 200, media_type, request_id)

        state = self.state
        header_client = ClientKind.parse(request.headers.get("x-client"))
        async with state.sessionmaker() as session:
            viewer = await load_viewer(session, state.settings.secret_key, _bearer_token(request), header_client)
        ip = request_client_ip(request, state.settings.forwarded_allow_ips)
        context = Context(state=state, request_id=request_id, viewer=viewer, ip=ip, transport="http", request=request)
        allowed = {OperationType.QUERY} if request.method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
        try:
            for attempt in range(1, RETRY_ATTEMPTS + 1):
                result = await self.schema.execute(
                    query,
                    variable_values=params.get("variables"),
                    context_value=context,
                    operation_name=params.get("operationName"),
                    allowed_operation_types=allowed,
                )
                if attempt == RETRY_ATTEMPTS or not _aborted_by_concurrency(result):
                    break
                # The whole operation rolled back; every mutation is safe to run again (each is
                # idempotent or keyed), so try once more after a short, jittered pause.
                log.info("operation retried after a deadlock", extra={"fields": {"request_id": request_id,
                                                                                  "attempt": attempt}})
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                context = Context(state=state, request_id=request_id, viewer=viewer, ip=ip, transport="http",
                                  request=request)
        except InvalidOperationTypeError as exc:
            if request.method == "GET":
                raise HTTPError(405, "Mutations must be sent with POST.", {"Allow": "POST"},
                                "METHOD_NOT_ALLOWED") from exc
            raise HTTPError(400, "Subscriptions are served over WebSocket at this same path.",
                            code="SUBSCRIPTION_OVER_HTTP") from exc
        except CannotGetOperationTypeError as exc:
            raise HTTPError(400, "Name the operation to run with operationName.",
                            code="OPERATION_NAME_REQUIRED") from exc
        except MissingQueryError as exc:
            raise HTTPError(400, "The query parameter is required.", code="QUERY_REQUIRED") from exc

        errors = [_format_error(e) for e in result.errors or []]
        request_error = result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)
        if register_hash is not None and not request_error:
            await state.persisted_queries.put(register_hash, query)
        body: dict[str, Any] = {}
        if not request_error:
            body["data"] = result.data
        if errors:
            body["errors"] = errors
        if result.extensions:
            body["extensions"] = result.extensions
        status = 400 if request_error and strict else 200
        return _json_response(body, status, media_type, request_id)


RETRY_ATTEMPTS = 3


def _aborted_by_concurrency(result) -> bool:
    return bool(result.errors) and any(is_retryable(e.original_error) for e in result.errors)


class _GraphQLRequestError(Exception):
    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def _format_error(error: GraphQLError) -> dict[str, Any]:
    return error.formatted
