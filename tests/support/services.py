"""The three services as real processes on free ports, as `make dev` runs them.

Async callers wait with `until_ready` and `started_stack`, which do not block the event loop; sync callers
(sync fixtures, the soak's and the demo's set-up, the bench) with `wait_ready` and `running_stack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PORT_VAR = {"api": "API_PORT", "notifier": "NOTIFIER_PORT", "worker": "WORKER_PORT"}
POLL_S = 0.05  # readiness is polled: the process offers no event to await


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Service:
    """One running service process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """Its HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What it has written so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal it and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@dataclass
class Stack:
    """The services of one test run and what they were started with."""

    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def api(self) -> str:
        """Base URL of the api."""
        return self.services["api"].url

    @property
    def ws(self) -> str:
        """Base WebSocket URL of the notifier."""
        return self.services["notifier"].url.replace("http://", "ws://")

    @property
    def worker(self) -> str:
        """Base URL of the worker's probes."""
        return self.services["worker"].url


def wait_ready(service: Service, timeout: float = 30) -> None:
    """Block until the service's /readyz says 200 (or fail with its log). For sync callers only."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            _check_running(service)
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{service.url}/readyz").status_code == 200:
                    return
            time.sleep(POLL_S)
    raise _not_ready(service, timeout)


async def until_ready(service: Service, within: float = 30) -> None:
    """Return once the service's /readyz says 200 (or fail with its log), leaving the event loop free."""
    try:
        async with httpx.AsyncClient(timeout=1) as client, asyncio.timeout(within):
            while True:
                _check_running(service)
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{service.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise _not_ready(service, within) from None


def _check_running(service: Service) -> None:
    if service.process.poll() is not None:
        raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{service.log()}")


def _not_ready(service: Service, timeout: float) -> TimeoutError:
    return TimeoutError(f"{service.name} not ready after {timeout}s:\n{service.log()}")


def start_service(name: str, env: Mapping[str, str], log_dir: Path) -> Service:
    """Start `orders-<name>` on a free port."""
    port = free_port()
    log_path = log_dir / f"{name}-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / f"orders-{name}")],
            env={**os.environ, **env, PORT_VAR[name]: str(port)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Service(name, port, process, log_path)


def _start_stack(env: Mapping[str, str], log_dir: Path, names: Iterable[str], stop: ExitStack) -> Stack:
    """Start the services (``stop`` stops them), not waiting for them."""
    stack = Stack(env=dict(env))
    for name in names:
        service = start_service(name, env, log_dir)
        stack.services[name] = service
        stop.callback(service.stop)
    return stack


@contextmanager
def running_stack(
    env: Mapping[str, str], log_dir: Path, names: tuple[str, ...] = ("api", "worker", "notifier")
) -> Iterator[Stack]:
    """Start the services, wait until each is ready, stop them all at the end. For sync callers only."""
    with ExitStack() as stop:
        stack = _start_stack(env, log_dir, names, stop)
        for service in stack.services.values():
            wait_ready(service)
        yield stack


@asynccontextmanager
async def started_stack(
    env: Mapping[str, str], log_dir: Path, names: tuple[str, ...] = ("api", "worker", "notifier")
) -> AsyncIterator[Stack]:
    """`running_stack` for async callers: the waits leave the event loop free."""
    with ExitStack() as stop:
        stack = _start_stack(env, log_dir, names, stop)
        await asyncio.gather(*(until_ready(service) for service in stack.services.values()))
        yield stack
