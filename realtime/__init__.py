"""Outbox relay, broker and subscription streams."""
