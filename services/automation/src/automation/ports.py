"""Ports of the automation service (Protocols the app layer depends on)."""
