"""The body cap: an ASGI middleware that refuses oversized bodies before anything parses them."""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orders_api.problems import PROBLEM_JSON
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

log = get_logger()


class BodyTooLarge(HTTPException):
    """Raised inside receive() when a streamed body passes the cap; the app's handlers answer 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body is larger than {max_bytes} bytes")


class BodySizeLimit:
    """413 for a Content-Length above the cap, and for a streamed body that grows past it."""

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)
                return
            # A handler that answered before reading its whole body: the answer is out, the rest unread.
            self.metrics.internal_errors.labels(where="api_body_limit").inc()
            log.warning(
                "body_cap_passed_after_response_started", path=scope["path"], max_bytes=self.max_bytes
            )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = orjson.dumps(
            {
                "type": "https://errors.order-engine.dev/request-too-large",
                "title": "Request too large",
                "status": 413,
                "detail": f"the body is larger than {self.max_bytes} bytes",
                "instance": scope["path"],
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
