"""Per-operation dataloaders, one module per domain, imported by the schema types.

A loader is addressed by its class: `ProductByIdLoader(info.context).load(pk)` returns the
operation's one instance of that loader, created on first use, so every field of an operation
that asks for products shares one batch and one cache.
"""
