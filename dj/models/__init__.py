"""Pydantic models of the DJ API's stored and exchanged values."""
