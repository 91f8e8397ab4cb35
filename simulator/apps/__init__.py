"""Built-in app descriptions (``<name>.toml``), loaded with `simulator.api.load_app`."""
