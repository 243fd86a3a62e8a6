"""Benchmarks: our figure next to a raw baseline measured in the same run (`make bench`)."""
