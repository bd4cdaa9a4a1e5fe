"""Prometheus metrics of one process (its own registry, so several apps can live in one test run)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests", "HTTP requests served", ["path", "method", "status"], registry=self.registry)
        self.operations = Counter(
            "graphql_operations", "GraphQL operations executed",
            ["operation_name", "operation_type", "transport"], registry=self.registry)
        self.operation_duration = Histogram(
            "graphql_operation_duration_seconds", "GraphQL operation duration",
            ["operation_name", "operation_type"], registry=self.registry)
        self.errors = Counter(
            "graphql_errors", "GraphQL operations that ended with errors", ["kind"], registry=self.registry)
        self.open_websockets = Gauge(
            "websocket_connections_open", "Open GraphQL WebSocket connections", registry=self.registry)
        self.live_subscribers = Gauge(
            "live_subscribers", "Subscriptions receiving live events in this process", registry=self.registry)
        self.outbox_published = Gauge(
            "outbox_events_published", "Outbox events this process's relay has published", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
