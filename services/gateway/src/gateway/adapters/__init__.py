"""Technology-named implementations of the gateway ports."""
