"""The simulator: realistic telemetry with injected problems and a ground-truth manifest."""
