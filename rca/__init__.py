"""Incident detection and the RCA agent: from a regression to the PR and gate verdicts behind it."""
