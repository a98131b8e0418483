"""admissions package."""
