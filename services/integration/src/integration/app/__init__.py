"""The integration use cases, over the ports only."""
