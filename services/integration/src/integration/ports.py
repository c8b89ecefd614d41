"""Ports of the integration service (Protocols the app layer depends on)."""
