"""py-spy on the services: record flame graphs and raw stacks, then say where the CPU went.

`python -m bench.profile FILE…` prints self and total time by package and function of raw stacks.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.stack import Service

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


# Each sample is counted once, in the first of these whose package is anywhere on its stack: the database
# client before the HTTP framework that called it. SQLAlchemy's async API runs its work in greenlets, which
# py-spy shows as stacks of their own; they land in "database" like the rest.
CATEGORIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("database (sqlalchemy, psycopg)", frozenset({"sqlalchemy", "psycopg", "psycopg_pool", "greenlet"})),
    ("amqp (aio_pika, aiormq, pamqp)", frozenset({"aio_pika", "aiormq", "pamqp"})),
    ("websockets", frozenset({"websockets", "wsproto"})),
    ("pydantic (validation, serialisation)", frozenset({"pydantic", "pydantic_core"})),
    ("logging (structlog)", frozenset({"structlog", "logging"})),
    ("metrics (prometheus_client)", frozenset({"prometheus_client"})),
    ("json", frozenset({"json", "orjson"})),
    (
        "http (uvicorn, starlette, fastapi, anyio)",
        frozenset({"uvicorn", "starlette", "fastapi", "anyio", "httptools"}),
    ),
)


# uvicorn's start-up frames sit under every task of the process: they say nothing about the work.
_BOOTSTRAP = frozenset({"uvicorn/_compat.py", "uvicorn/server.py", "uvicorn/main.py"})


def _bootstrap(frame: str) -> bool:
    match = _FRAME.match(frame)
    return match is not None and match["file"] in _BOOTSTRAP


def _category(packages: set[str]) -> str:
    for name, members in CATEGORIES:
        if packages & members:
            return name
    if any(p.startswith("orders_") for p in packages):
        return "our code (orders_*)"
    return "event loop and the rest"


def _parse(path: Path) -> Iterable[tuple[list[str], int]]:
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def _where(frame: str) -> tuple[str, str]:
    """(function and file, package) of one frame; the line number is dropped so a function counts once."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, frame
    file = match["file"]
    parts = file.split("/")
    package = parts[-2] if len(parts) > 1 and parts[-2] == "asyncio" else parts[0]
    return f"{match['func']} ({file})", package.removesuffix(".py")


def summarize_one(path: Path, top: int = 20) -> str:
    """Self time by package and by function, and total (inclusive) time by function, as percentages."""
    category: Counter[str] = Counter()
    own_package: Counter[str] = Counter()
    own_function: Counter[str] = Counter()
    total_function: Counter[str] = Counter()
    samples = 0
    for frames, count in _parse(path):
        samples += count
        where = [_where(f) for f in frames]
        leaf_function, leaf_package = where[-1]
        own_function[leaf_function] += count
        own_package[leaf_package] += count
        category[_category({p for (_, p), f in zip(where, frames, strict=True) if not _bootstrap(f)})] += (
            count
        )
        for function in {f for f, _ in where}:
            total_function[function] += count
    if not samples:
        return f"## {path.name}: no samples\n"

    def block(title: str, counter: Counter[str]) -> list[str]:
        rows = [f"  {100 * n / samples:5.1f}%  {name}" for name, n in counter.most_common(top)]
        return [title, *rows]

    lines = [
        f"## {path.stem} — {samples} samples at 100 Hz (≈ {samples / 100:.1f} CPU s sampled)",
        *block("by layer (a sample counts once, in the first layer on its stack):", category),
        *block("self time by package:", own_package),
        *block("self time by function:", own_function),
        *block("total time by function (the function or anything it called):", total_function),
        "",
    ]
    return "\n".join(lines)


def summarize(paths: Iterable[Path]) -> str:
    """Summaries of several raw profiles, one after the other."""
    return "\n".join(summarize_one(p) for p in paths)


class Profiler:
    """py-spy attached to service processes: a flame graph and raw stacks per process."""

    def __init__(self, enabled: bool, results: Path) -> None:
        self.enabled = enabled
        self.results = results
        self.py_spy = shutil.which(
            "py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        )
        if enabled and self.py_spy is None:
            raise SystemExit("bench: --profile needs py-spy: uv pip install --python .venv/bin/python py-spy")
        self.running: list[subprocess.Popen[bytes]] = []
        self.outputs: list[Path] = []

    @contextlib.contextmanager
    def recording(self, label: str, services: list[Service], max_s: float) -> Iterator[None]:
        """Sample ``services`` while the block runs: 100 Hz, without pausing them, and only the thread
        holding the GIL, so the profile is where CPU goes, not where the process waits."""
        if self.enabled:
            for service in services:
                for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
                    out = self.results / f"{label}-{service.name}.{suffix}"
                    if out not in self.outputs:
                        self.outputs.append(out)
                    assert self.py_spy is not None
                    self.running.append(
                        subprocess.Popen(
                            [self.py_spy, "record", "--pid", str(service.pid), "--nonblocking", "--gil",
                             "--format", fmt, "--duration", str(int(max_s)), "-o", str(out)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )  # fmt: skip
        try:
            yield
        finally:
            self.stop()

    def stop(self) -> None:
        """SIGINT makes py-spy write what it has; wait for it."""
        for proc in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running.clear()


if __name__ == "__main__":
    sys.stdout.write(summarize(Path(a) for a in sys.argv[1:]))
