"""tare: measure what a host agent costs the server it protects, every night."""

__version__ = "0.1.0"
