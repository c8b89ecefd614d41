"""Technology-named implementations of the automation ports."""
