"""Programs: program definitions, eligibility (proxy-means test plus categorical rules)."""
