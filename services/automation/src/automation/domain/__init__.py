"""The automation domain: pure model and rules, no infrastructure."""
