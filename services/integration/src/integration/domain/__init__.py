"""The integration domain: pure model and rules, no infrastructure."""
