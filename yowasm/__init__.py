"""yowasm: start WebAssembly projects and carry them to a registry."""

__version__ = "0.1.0"
