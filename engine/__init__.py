"""The cycle: config, planning, and the one function the daemon calls per source."""
