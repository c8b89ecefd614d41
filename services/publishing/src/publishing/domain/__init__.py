"""The publishing domain: pure model and rules, no infrastructure."""
