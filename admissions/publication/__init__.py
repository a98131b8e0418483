"""Publication of results: per-school tables, family lookup, fairness report, bundle."""
