"""benchmarks/math."""
