"""Incident detection, localization, suspects, gate verdicts, the RCA agent and its briefs.

The library API is `rca.service`; the contract models are in `rca.models`.
"""
