"""Listings as the mall runs them: the catalogue's operations plus audit,
notifications, review jobs, the manual queue and rulesets."""
