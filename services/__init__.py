"""Domain rules and transactions, usable without GraphQL. Services flush, never commit."""
