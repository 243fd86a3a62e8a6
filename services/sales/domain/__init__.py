"""Sales rules for pipelines, opportunities, forecasts and quotes: pure Python, no I/O."""
