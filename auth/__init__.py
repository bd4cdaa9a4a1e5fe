"""Authentication and authorization: passwords, tokens, permissions, the request's viewer."""
