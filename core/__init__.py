"""The ground floor: Baton's domain values, errors, config and secrets, logs, time and the
fault-injection hook. It imports nothing else of Baton; every other layer may import it."""
