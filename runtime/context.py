"""Per-request context, reachable from any code a request runs.

`contextvars` is the Python analogue of AsyncLocalStorage: tasks created with
`asyncio.create_task` inside a request copy the current context, so a helper deep in
the call stack (or in a task the request spawned) finds the same request id, logger
and budgets without threading them through every signature.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .http import Request, Response
    from .logging import ServiceLogger
    from .platform import Platform
    from .routing import Route

_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "djbuild_request_context", default=None
)


class Env:
    """Attribute access to a worker's vars, secrets and bindings, with defaults."""

    __slots__ = ("_source",)

    def __init__(self, source: Any = None) -> None:
        self._source = source if source is not None else {}

    def get(self, name: str, default: Any = None) -> Any:
        source = self._source
        if isinstance(source, dict):
            value = source.get(name, default)
        else:
            try:
                value = getattr(source, name)
            except (AttributeError, KeyError):
                return default
        return default if value is None else value

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise AttributeError(f"env has no {name!r}")
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


class Context:
    """What a handler receives: the request, its validated inputs, env and helpers."""

    def __init__(
        self,
        request: Request,
        env: Env,
        platform: Platform,
        logger: ServiceLogger,
    ) -> None:
        self.req = request
        self.env = env
        self.platform = platform
        self.log = logger
        self.request_id: str = ""
        self.route: Route | None = None
        # Validated inputs, filled by the router from the route's declared models.
        self.params: Any = None
        self.query: Any = None
        self.headers: Any = None
        self.body: Any = None
        self.token: str | None = None
        # Free-form per-request state for middleware and services (budgets, trackers).
        self.state: dict[str, Any] = {}
        self._response_headers: list[tuple[str, str]] = []

    def var(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, default)
        return value if value is None else str(value)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Keep work alive after the response is sent (ctx.waitUntil on Workers)."""
        self.platform.wait_until(awaitable)

    def header(self, name: str, value: str) -> None:
        """Add a header to whatever response this request ends with."""
        self._response_headers.append((name, value))

    def json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        from .http import Response

        return Response.json(data, status=status, headers=headers)

    def text(self, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        from .http import Response

        return Response.text(text, status=status, headers=headers)

    def redirect(self, location: str, status: int = 302) -> Response:
        from .http import Response

        return Response(b"", status=status, headers={"Location": location})


def current() -> Context:
    """The context of the request being served; raises outside a request."""
    ctx = _current.get()
    if ctx is None:
        raise LookupError("no request is being served in this context")
    return ctx


def current_or_none() -> Context | None:
    return _current.get()


def bind(ctx: Context) -> contextvars.Token[Context | None]:
    return _current.set(ctx)


def unbind(token: contextvars.Token[Context | None]) -> None:
    _current.reset(token)


Handler = Callable[[Context], Awaitable["Response"]]
