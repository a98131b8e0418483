"""Demo data for paiwei: a city modelled on Wuxi and deterministic synthetic families.

``demo_city(seed, campaign_year, expected_families=...)`` and ``families(city, n, seed)`` are the
entry points; ``python -m seeds city|families`` prints them as JSON. See docs/seeds.md.
"""

from seeds.city import City, demo_city
from seeds.families import Family, families

__all__ = ["City", "Family", "demo_city", "families"]
