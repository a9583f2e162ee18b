"""Composable caching and sessions for WSGI applications."""

__version__ = "2.0.0.dev0"
