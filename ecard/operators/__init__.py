"""Platform operators: who reviews appeals through the operator API."""
