"""The gateway use cases, over the ports only."""
