"""schools domain."""
