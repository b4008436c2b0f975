"""The djbuild runtime: what runs inside the Worker (and on CPython for unit tests)."""

from .app import App
from .context import Context, current
from .errors import HTTPError
from .http import Headers, Request, Response
from .routing import Router

__all__ = ["App", "Context", "HTTPError", "Headers", "Request", "Response", "Router", "current"]
