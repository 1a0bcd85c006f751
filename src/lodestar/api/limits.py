"""Request size limit, as pure ASGI middleware (no per-request overhead beyond a header look-up):
a declared ``Content-Length`` over the limit is refused before the body is read, and a streamed
(chunked) body is counted as it arrives."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lodestar.api.errors import error_bytes
from lodestar.i18n import resolve_locale, t

#: 1 MiB: a decide request is a few hundred bytes; the events API (1,000 events a batch) sets
#: its own, larger limit for its path (``paths``).
DEFAULT_MAX_BODY = 1 << 20


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY,
                 paths: dict[str, int] | None = None) -> None:  # fmt: skip
        self.app = app
        self.default = max_body
        #: exact paths with a limit of their own
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.default)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(headers, send, limit)
            return
        seen = 0
        over = False  # the body passed the limit: whatever the app answers, the client gets 413
        refused = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge  # the framework may turn this into its own error answer
            return message

        async def watched(message: Message) -> None:
            nonlocal refused
            if over:
                if not refused:
                    refused = True
                    await self._refuse(headers, send, limit)
                return
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not refused:
                refused = True
                await self._refuse(headers, send, limit)

    async def _refuse(self, headers: dict[Any, Any], send: Send, limit: int) -> None:
        asked = headers.get(b"accept-language", b"").decode("latin-1").split(",")[0] or None
        body = error_bytes("payload_too_large",
                           t("api.too_large", resolve_locale(asked), limit=limit))  # fmt: skip
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
