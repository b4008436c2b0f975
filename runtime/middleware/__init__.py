"""Middleware: `(context, next) -> Response`, composed by `App.use` in the order added."""

from .cors import cors
from .request_id import request_id
from .security import security_headers

__all__ = ["cors", "request_id", "security_headers"]
