"""Thin entrypoints of the billing service: HTTP, events, CLI."""
