"""Technology-named implementations of the integration ports."""
