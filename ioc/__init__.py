"""IOC core: settings, the canonical event model, the schema, the API and the `ioc` CLI."""

__version__ = "0.1.0"
