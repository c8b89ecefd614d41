"""Ports of the publishing service (Protocols the app layer depends on)."""
