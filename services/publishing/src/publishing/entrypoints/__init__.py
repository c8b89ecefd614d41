"""Thin entrypoints of the publishing service: HTTP, events, CLI."""
