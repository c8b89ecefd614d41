"""Thin entrypoints of the integration service: HTTP, events, CLI."""
