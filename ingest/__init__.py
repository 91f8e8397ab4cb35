"""Collectors and receivers: OTLP/HTTP traces and logs, error events, support tickets, changes."""
