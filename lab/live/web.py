"""`hblab web`: the live model as a page, served on this machine's loopback only.

Starlette routes and uvicorn serve it. The page (lab/live/static: plain HTML, CSS
and JavaScript, no build step, nothing fetched from elsewhere) gets one ``hello``
(the drawing) and then every snapshot over Server-Sent Events; the browser's
EventSource reconnects by itself after a restart of the server (``retry: 1000``),
and the page reopens the stream if it stays silent. Buttons POST to /api/action.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lab.errors import LabError
from lab.live import actions

STATIC = Path(__file__).parent / "static"
HOST = "127.0.0.1"  # never another address: the page drives the lab
KEEPALIVE = 2.0  # a "ping" event this often, so the page can tell a dead stream
QUEUE = 8  # snapshots waiting per page; a slow page skips old ones


class Source(Protocol):
    """The live model or a replay."""

    latest: dict[str, Any] | None

    def hello(self) -> dict[str, Any]: ...
    def subscribe(self, subscriber: Callable[[dict[str, Any]], None]) -> Callable[[], None]: ...
    def note(self, text: str) -> None: ...


class Broadcast:
    """From the model's thread to every open page's queue, on the server's loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[str]] = set()

    def publish(self, snapshot: dict[str, Any]) -> None:
        if self.loop is None or not self.queues:
            return
        text = json.dumps(snapshot, separators=(",", ":"))
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self._fan_out, text)

    def _fan_out(self, text: str) -> None:
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(text)


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def make_app(source: Source, backend: str | None) -> Starlette:
    broadcast = Broadcast()
    hello = {**source.hello(), "server": time.time()}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        broadcast.loop = asyncio.get_running_loop()
        unsubscribe = source.subscribe(broadcast.publish)
        try:
            yield
        finally:
            unsubscribe()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # none: the page needs nothing but its own files

    async def state(request: Request) -> Response:
        return JSONResponse({"hello": hello, "latest": source.latest})

    async def events(request: Request) -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE)
        broadcast.queues.add(queue)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n" + _sse("hello", json.dumps(hello))
                if source.latest is not None:
                    yield _sse("state", json.dumps(source.latest))
                while True:
                    try:
                        text = await asyncio.wait_for(queue.get(), KEEPALIVE)
                    except TimeoutError:
                        yield _sse("ping", "{}")
                        continue
                    yield _sse("state", text)
            finally:
                broadcast.queues.discard(queue)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def action(request: Request) -> Response:
        if not hello.get("controls"):
            return JSONResponse({"ok": False, "error": "a replay has no lab to act on"}, 409)
        try:
            wanted = actions.parse(await request.json())
        except (LabError, ValueError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 400)
        source.note(f"pressed: {wanted.describe()}")
        try:
            done = await run_in_threadpool(actions.run, wanted, backend)
        except Exception as exc:  # one line for the page, whatever failed in the lab
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            source.note(f"failed: {wanted.describe()}: {text}")
            return JSONResponse({"ok": False, "error": text}, 500)
        source.note(f"done: {done}")
        return JSONResponse({"ok": True, "done": done})

    routes = [
        Route("/", index),
        Route("/events", events),
        Route("/favicon.ico", favicon),
        Route("/api/state", state),
        Route("/api/action", action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(source: Source, backend: str | None, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn's own handling); open pages are cut off
    after a second, and reconnect to the next server by themselves."""
    config = uvicorn.Config(
        make_app(source, backend),
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    print(f"hblab web: http://{HOST}:{port}/ (Ctrl-C stops)", flush=True)
    server.run()
