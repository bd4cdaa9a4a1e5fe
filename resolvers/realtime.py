"""Subscriptions: each reads the viewer's filter from realtime.streams and maps events to types."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from graphql import GraphQLError

from core.errors import ServiceError
from core.ids import encode_global_id
from core.operation import release_current_scope
from realtime import outbox
from realtime.outbox import decode_event_cursor
from realtime.streams import live_events, staff_filter, user_filter
from schema.realtime import (
    EVENT_CLASSES,
    ApplicationEvent,
    CommissionEvent,
    LiveEvent,
    OrderEvent,
    WalletEvent,
    WithdrawalEvent,
)

log = logging.getLogger("fenxiao.graphql")

After = Annotated[str | None, strawberry.argument(
    description="Replay the events after this cursor first (a previous event's `cursor`), then go live.")]


def to_graphql(event: outbox.LiveEvent) -> LiveEvent:
    cls = EVENT_CLASSES[event.event_type]
    return cls(cursor=event.cursor, type=event.event_type, subject_type=event.subject_type,
               subject_id=strawberry.ID(encode_global_id(event.subject_type, event.subject_id)),
               occurred_at=event.created_at, data=event.payload, event=event)


async def _stream(info: strawberry.Info, make_filter, after: str | None) -> AsyncGenerator[LiveEvent, None]:
    context = info.context
    try:
        predicate, types = make_filter(context.viewer)
        after_id = decode_event_cursor(after) if after is not None else None
        events = live_events(context.state.hub, context.state.sessionmaker, predicate=predicate,
                             event_types=types, after_id=after_id, expires_at=context.viewer.expires_at)
        try:
            async for event in events:
                yield to_graphql(event)
                # Fields of an event that loaded data did so in the operation's session: release it
                # after each event, so a subscription never holds a session (or stale loader
                # caches) between events.
                await release_current_scope()
        finally:
            await events.aclose()
    except ServiceError as error:
        raise GraphQLError(error.message, extensions={"code": error.code.value}) from error
    except GraphQLError:
        raise
    except Exception as error:
        # Subscriptions stream their results past the error-masking extension: mask here.
        log.error("unexpected error in a subscription", exc_info=error,
                  extra={"fields": {"request_id": context.request_id}})
        raise GraphQLError("Internal server error", extensions={
            "code": "INTERNAL_SERVER_ERROR", "requestId": context.request_id}) from error


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(description="Your orders as they change: as the buyer, and as the "
                                         "distributor they are attributed to (or that distributor's upline).")
    async def order_updated(self, info: strawberry.Info,
            after: After = None) -> AsyncGenerator[OrderEvent, None]:
        async for event in _stream(info, lambda v: user_filter(v, outbox.ORDER_UPDATED), after):
            yield event

    @strawberry.subscription(description="Commission you earn as it is credited, settles or is reversed.")
    async def commission_updated(self, info: strawberry.Info,
            after: After = None) -> AsyncGenerator[CommissionEvent, None]:
        async for event in _stream(info, lambda v: user_filter(v, outbox.COMMISSION_UPDATED), after):
            yield event

    @strawberry.subscription(description="Your wallet's balances as they change.")
    async def wallet_updated(self, info: strawberry.Info,
            after: After = None) -> AsyncGenerator[WalletEvent, None]:
        async for event in _stream(info, lambda v: user_filter(v, outbox.WALLET_UPDATED), after):
            yield event

    @strawberry.subscription(description="Your withdrawal requests as they are reviewed and paid.")
    async def withdrawal_updated(self, info: strawberry.Info,
            after: After = None) -> AsyncGenerator[WithdrawalEvent, None]:
        async for event in _stream(info, lambda v: user_filter(v, outbox.WITHDRAWAL_UPDATED), after):
            yield event

    @strawberry.subscription(description="Your distributor application as it is reviewed.")
    async def application_updated(self, info: strawberry.Info,
            after: After = None) -> AsyncGenerator[ApplicationEvent, None]:
        async for event in _stream(info, lambda v: user_filter(v, outbox.APPLICATION_UPDATED), after):
            yield event

    @strawberry.subscription(description="Staff: the back-office feed of changes your permissions cover "
                                         '(orders: MANAGE_ORDERS; commission, wallets, withdrawals: '
                                         'MANAGE_FINANCE; applications: MANAGE_DISTRIBUTORS), optionally '
                                         'only some event `types` ("order.updated", ...).')
    async def staff_feed(self, info: strawberry.Info,
                         types: Annotated[list[str] | None, strawberry.argument(
                             description="Only these event types; all you may see when left out.")] = None,
                         after: After = None) -> AsyncGenerator[LiveEvent, None]:
        async for event in _stream(info, lambda v: staff_filter(v, types), after):
            yield event
