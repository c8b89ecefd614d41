"""The automation use cases, over the ports only."""
