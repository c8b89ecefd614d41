"""Technology-named implementations of the billing ports."""
