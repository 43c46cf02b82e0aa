"""A declarative, config-driven experiment engine for machine-learning engineers."""

__version__ = "0.1.0"
