"""Thin resolvers: read input, check permission, call a service, map the result."""
