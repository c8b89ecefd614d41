"""Technology-named implementations of the publishing ports."""
