"""One batch cycle (`andon run`): derive errors -> analyse -> draft tickets -> detect incidents."""
