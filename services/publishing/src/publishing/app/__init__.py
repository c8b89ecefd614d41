"""The publishing use cases, over the ports only."""
