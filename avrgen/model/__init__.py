"""Data types every layer shares: blueprints as validated, plans, the catalog, labels."""
