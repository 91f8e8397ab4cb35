"""Friction analysis: pure functions over Polars frames that find where real users struggle."""
