"""The billing use cases, over the ports only."""
