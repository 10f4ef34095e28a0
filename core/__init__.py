"""The shared kernel every app uses (no models): errors, API error handler, on-commit helpers, cache, SQL rows."""
