"""Baton at scale, side by side with the Singer taps: `python -m benchmarks.run` (see RESULTS.md)."""
