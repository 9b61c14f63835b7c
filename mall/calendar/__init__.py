"""China's official working-day calendar and the deadline rule (pure core in ``core``)."""
