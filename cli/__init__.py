"""The `andon` command line: a thin layer over the library packages."""
