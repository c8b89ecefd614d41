"""The gateway domain: pure model and rules, no infrastructure."""
