"""auditlog domain."""
