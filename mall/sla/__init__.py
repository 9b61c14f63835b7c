"""SLA clocks: every promise the mall makes, in working days."""
