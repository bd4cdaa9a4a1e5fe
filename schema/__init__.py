"""Strawberry types, inputs, enums and scalars, one module per domain.

Types resolve their nested fields through `loaders/`; the root Query, Mutation and
Subscription live in `resolvers/`, and `server/schema.py` assembles the one schema.
"""
