"""Pydantic v2 wire models for request bodies (camelCase, as LaunchDarkly names them). Unknown fields
are ignored, as LaunchDarkly ignores them. Each model converts itself to the service's input."""
