"""The trace-analysis agent and the PM review gate: evidence-backed tickets a human approves."""
