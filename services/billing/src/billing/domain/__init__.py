"""The billing domain: pure model and rules, no infrastructure."""
