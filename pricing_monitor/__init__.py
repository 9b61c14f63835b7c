"""Market price baselines, matching listings to them, and the set-based scan.

Its assessment core is pure (no web, database or queue imports); the scan
and the tables come with the price-monitor issue.
"""

__all__: list[str] = []
