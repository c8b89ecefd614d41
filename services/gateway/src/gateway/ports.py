"""Ports of the gateway service (Protocols the app layer depends on)."""
