"""Infrastructure shared by every layer: configuration, database, errors, ids, money."""
