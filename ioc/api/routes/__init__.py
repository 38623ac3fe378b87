"""Thin route modules; each serves one part of the public contract."""
