"""Ports of the billing service (Protocols the app layer depends on)."""
