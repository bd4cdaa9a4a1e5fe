"""The web edge: GraphQL over HTTP and WebSocket, health, metrics, logs."""
