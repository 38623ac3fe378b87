"""The HTTP API: REST, the /ws/live feed, the wall screen, health and metrics."""
