"""The price monitor as the mall runs it: scans, violations, their clocks."""
