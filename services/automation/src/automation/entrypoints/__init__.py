"""Thin entrypoints of the automation service: HTTP, events, CLI."""
