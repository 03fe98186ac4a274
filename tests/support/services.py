"""The three services as real processes on free ports, as `make dev` runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


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
    """Block until the service's /readyz says 200 (or fail with its log)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}:\n{service.log()}"
                )
            try:
                if client.get(f"{service.url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling readiness: the process offers no event to await
    raise TimeoutError(f"{service.name} not ready after {timeout}s:\n{service.log()}")


def start_service(name: str, env: Mapping[str, str], log_dir: Path) -> Service:
    """Start `orders-<name>` on a free port."""
    port = free_port()
    port_var = {"api": "API_PORT", "notifier": "NOTIFIER_PORT", "worker": "WORKER_PORT"}[name]
    log_path = log_dir / f"{name}-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / f"orders-{name}")],
            env={**os.environ, **env, port_var: str(port)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Service(name, port, process, log_path)


@contextmanager
def running_stack(
    env: Mapping[str, str], log_dir: Path, names: tuple[str, ...] = ("api", "worker", "notifier")
) -> Iterator[Stack]:
    """Start the services, wait until each is ready, stop them all at the end."""
    stack = Stack(env=dict(env))
    with ExitStack() as stop:
        for name in names:
            service = start_service(name, env, log_dir)
            stack.services[name] = service
            stop.callback(service.stop)
        for service in stack.services.values():
            wait_ready(service)
        yield stack
