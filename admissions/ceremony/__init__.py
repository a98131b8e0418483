"""The lottery ceremony: draws with witnesses and a public beacon, the 统筹 public round, and
vacancy offers down the published waitlists (docs/ceremony.md)."""
