"""Thin entrypoints of the gateway service: HTTP, events, CLI."""
