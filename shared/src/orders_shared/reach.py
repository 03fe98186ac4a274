"""Reaching Postgres and RabbitMQ: why a connection failed, in one clear message, and the start-up wait.

Every entry point goes through here: `orders-migrate`, each service's lifespan (`Database.open`,
`amqp.connect`) and `make dev`. A failure is classified once (`Failure`) from the driver's error, and
`Unreachable.message()` says which setting, the URL with its password hidden, what was tried, what
failed and what to do. At start-up a service waits (`retry_until`) with capped backoff for
STARTUP_TIMEOUT_S, one log line per failed attempt; authentication failures and a missing database or
vhost end the wait at once, as no later attempt would change them.
"""

from __future__ import annotations

import asyncio
import enum
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

import aio_pika
import psycopg
from aio_pika import exceptions as amqp_errors
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_before_delay,
    wait_exponential_jitter,
)

from orders_shared.logging import get_logger

T = TypeVar("T")

# One attempt never waits longer than this for an answer (less when the deadline is nearer).
ATTEMPT_TIMEOUT_S: Final = 5.0
# Backoff between attempts: 0.5 s, doubling, at most 5 s, with up to 0.5 s of jitter.
BACKOFF_INITIAL_S: Final = 0.5
BACKOFF_MAX_S: Final = 5.0


class Failure(enum.Enum):
    """What went wrong reaching a dependency, as a person would name it."""

    REFUSED = "connection refused"
    TIMEOUT = "timeout"
    UNKNOWN_HOST = "unknown host"
    AUTHENTICATION = "authentication failed"
    UNKNOWN_DATABASE = "unknown database"
    UNKNOWN_VHOST = "unknown vhost"
    OTHER = "connection failed"

    @property
    def lasting(self) -> bool:
        """The server answered and said no: trying again cannot help."""
        return self in (Failure.AUTHENTICATION, Failure.UNKNOWN_DATABASE, Failure.UNKNOWN_VHOST)


@dataclass(frozen=True)
class Dependency:
    """Postgres or RabbitMQ, as one setting names it."""

    name: str
    setting: str
    url: str
    default_port: int

    @property
    def parts(self) -> SplitResult:
        return urlsplit(self.url)

    @property
    def address(self) -> str:
        """host:port, as a connection is tried."""
        parts = self.parts
        try:
            port = parts.port or self.default_port
        except ValueError:
            port = self.default_port
        host = parts.hostname or "localhost"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def shown(self) -> str:
        """The URL with its password (in the netloc or a password= parameter) replaced by ***."""
        parts = self.parts
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
        query = parts.query
        if "password=" in query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
        return parts._replace(netloc=netloc, query=query).geturl()

    @property
    def user(self) -> str:
        return unquote(self.parts.username or "")

    @property
    def path_name(self) -> str:
        """The database (Postgres) or vhost (RabbitMQ) the URL names."""
        name = unquote(self.parts.path[1:]) if self.parts.path else ""
        return name or ("/" if self.setting == "AMQP_URL" else self.user)


def postgres(url: str) -> Dependency:
    """Postgres as DATABASE_URL names it."""
    return Dependency("Postgres", "DATABASE_URL", url, 5432)


def rabbitmq(url: str) -> Dependency:
    """RabbitMQ as AMQP_URL names it."""
    return Dependency("RabbitMQ", "AMQP_URL", url, 5671 if url.startswith("amqps:") else 5672)


class Unreachable(Exception):
    """A dependency did not answer, or refused us; `message()` is what a person reads."""

    def __init__(
        self,
        dependency: Dependency,
        failure: Failure,
        detail: str,
        *,
        attempts: int = 1,
        waited_s: float = 0.0,
    ) -> None:
        super().__init__(f"{dependency.name} at {dependency.setting}={dependency.shown}: {failure.value}")
        self.dependency = dependency
        self.failure = failure
        self.detail = detail
        self.attempts = attempts
        self.waited_s = waited_s

    def tried(self) -> str:
        """What was tried, and what came back."""
        times = "once" if self.attempts == 1 else f"{self.attempts} times over {self.waited_s:.0f} s"
        return f"connected to {self.dependency.address} {times}: {self.failure.value} ({self.detail})"

    def advice(self) -> list[str]:
        """What to do about it, one line each."""
        return advice(self.dependency, self.failure)

    def message(self) -> str:
        """The whole message: one headline, then the setting, what was tried, and what to do."""
        dependency = self.dependency
        lines = [
            f"error: cannot use {dependency.name}: {self.failure.value}",
            f"  setting: {dependency.setting}={dependency.shown}",
            f"  tried:   {self.tried()}",
            "  to do:   " + self.advice()[0],
            *(f"           {line}" for line in self.advice()[1:]),
        ]
        return "\n".join(lines)


_INSTALL: Final = {
    "Postgres": (
        "Debian/Ubuntu: sudo apt-get install -y postgresql && sudo service postgresql start",
        "macOS:         brew install postgresql@16 && brew services start postgresql@16",
    ),
    "RabbitMQ": (
        "Debian/Ubuntu: sudo apt-get install -y rabbitmq-server && sudo service rabbitmq-server start",
        "macOS:         brew install rabbitmq && brew services start rabbitmq",
    ),
}


def advice(dependency: Dependency, failure: Failure) -> list[str]:
    """What a person can do about this failure."""
    setting, name, user = dependency.setting, dependency.path_name, dependency.user
    if failure is Failure.AUTHENTICATION:
        add_user = (
            "sudo -u postgres createuser --superuser --pwprompt NAME"
            if dependency.name == "Postgres"
            else "sudo rabbitmqctl add_user NAME PASSWORD (guest may log in from localhost only)"
        )
        return [
            f"check the user ({user or 'none given'}) and the password in {setting};",
            f"a user the server lacks is refused too: {add_user}.",
            "`make dev`'s containers keep their first credentials: `make dev-down WIPE=1` forgets them.",
        ]
    if failure is Failure.UNKNOWN_DATABASE:
        return [f"create database {name!r} and migrate it: make migrate (orders-migrate --create-database)."]
    if failure is Failure.UNKNOWN_VHOST:
        user = user or "guest"
        return [
            f"create vhost {name!r} (or name one that exists in {setting}) and let {user!r} use it:",
            f"sudo rabbitmqctl add_vhost {name}",
            f"sudo rabbitmqctl set_permissions -p {name} {user} '.*' '.*' '.*'",
        ]
    return [
        f"start {dependency.name} at {dependency.address}, or set {setting} to where it runs.",
        "`make dev` starts Postgres and RabbitMQ in Docker when they are not running (needs Docker),",
        f"or install and start {dependency.name} yourself:",
        *_INSTALL[dependency.name],
    ]


# --- classifying the drivers' errors ------------------------------------------------------------------


def _postgres_failure(error: BaseException) -> tuple[Failure, str]:
    """Postgres' failure from psycopg's error; libpq puts the server's FATAL text in the message."""
    text = " ".join(str(error).split())
    # libpq's own first line says what failed; a second one ("Is the server running…") only guesses.
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    detail = " ".join(first.split(" failed: ", 1)[-1].split())
    lowered = text.lower()
    if isinstance(error, TimeoutError) or "timeout expired" in lowered:
        return Failure.TIMEOUT, detail
    if any(
        n in lowered for n in ("authentication failed", "no password supplied", "no pg_hba.conf entry")
    ) or ('role "' in lowered and "does not exist" in lowered):
        return Failure.AUTHENTICATION, detail
    if 'database "' in lowered and "does not exist" in lowered:
        return Failure.UNKNOWN_DATABASE, detail
    if "connection refused" in lowered:
        return Failure.REFUSED, detail
    if any(n in lowered for n in ("could not translate host name", "failed to resolve host")):
        return Failure.UNKNOWN_HOST, detail
    return Failure.OTHER, detail


def _rabbitmq_failure(error: BaseException) -> tuple[Failure, str]:
    """RabbitMQ's failure from aiormq's error."""
    if isinstance(error, amqp_errors.ProbableAuthenticationError):
        return Failure.AUTHENTICATION, "the broker refused the login (ACCESS_REFUSED)"
    if isinstance(error, amqp_errors.InvalidFrameError) and "Connection.Close" in str(error):
        # Logged in, then closed at Connection.Open: the vhost is missing or the user may not use it.
        return Failure.UNKNOWN_VHOST, "the broker closed the connection when the vhost was opened"
    if isinstance(error, TimeoutError):
        return Failure.TIMEOUT, "no answer"
    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, ConnectionRefusedError):
        return Failure.REFUSED, cause.strerror or "connection refused"
    if isinstance(cause, socket.gaierror):
        return Failure.UNKNOWN_HOST, cause.strerror or str(cause)
    if isinstance(cause, TimeoutError):
        return Failure.TIMEOUT, "no answer"
    return Failure.OTHER, " ".join(str(error).split()) or type(error).__name__


def unreachable(dependency: Dependency, error: BaseException) -> Unreachable:
    """The classified failure of one connection attempt."""
    classify = _postgres_failure if dependency.setting == "DATABASE_URL" else _rabbitmq_failure
    failure, detail = classify(error)
    return Unreachable(dependency, failure, detail)


# Errors a connection attempt raises when the other side is away or says no (anything else is a bug).
CONNECT_ERRORS: Final = (psycopg.OperationalError, amqp_errors.AMQPError, OSError, TimeoutError)


# --- waiting at start-up ------------------------------------------------------------------------------


async def retry_until(
    dependency: Dependency, attempt: Callable[[float], Awaitable[T]], timeout_s: float
) -> T:
    """Run ``attempt(attempt_timeout_s)`` until it succeeds, for at most ``timeout_s`` seconds.

    Between attempts: capped exponential backoff, one log line per failed attempt. The first attempt
    always runs (``timeout_s`` 0: exactly one). A lasting failure (authentication, unknown database or
    vhost) ends the wait at once. Raises `Unreachable`, counting the attempts and the time they took.
    """
    log = get_logger()
    start = time.monotonic()

    async def once() -> T:
        remaining = timeout_s - (time.monotonic() - start)
        try:
            return await attempt(max(1.0, min(ATTEMPT_TIMEOUT_S, remaining)))
        except CONNECT_ERRORS as error:
            raise unreachable(dependency, error) from error

    def log_attempt(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Unreachable):
            log.warning(
                "dependency_waiting",
                setting=dependency.setting,
                url=dependency.shown,
                failure=error.failure.value,
                detail=error.detail,
                attempt=state.attempt_number,
                retry_in_s=round(state.upcoming_sleep, 1),
                gives_up_in_s=round(max(0.0, timeout_s - (time.monotonic() - start)), 1),
            )

    retrying = AsyncRetrying(
        stop=stop_before_delay(timeout_s),
        wait=wait_exponential_jitter(initial=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S, jitter=0.5),
        retry=retry_if_exception(lambda e: isinstance(e, Unreachable) and not e.failure.lasting),
        before_sleep=log_attempt,
        reraise=True,
    )
    attempts = 0
    try:
        async for trying in retrying:
            with trying:
                attempts = trying.retry_state.attempt_number
                return await once()
    except Unreachable as error:
        error.attempts = attempts
        error.waited_s = time.monotonic() - start
        raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


async def wait_for_postgres(url: str, timeout_s: float, *, application_name: str = "orders") -> None:
    """Return once Postgres accepts a connection at ``url``; raise `Unreachable` after ``timeout_s``."""

    async def connect(attempt_timeout_s: float) -> None:
        async with asyncio.timeout(attempt_timeout_s + 1):
            conn = await psycopg.AsyncConnection.connect(
                url, connect_timeout=max(1, int(attempt_timeout_s)), application_name=application_name
            )
        await conn.close()

    await retry_until(postgres(url), connect, timeout_s)


async def wait_for_rabbitmq(url: str, timeout_s: float) -> None:
    """Return once RabbitMQ accepts a login at ``url``; raise `Unreachable` after ``timeout_s``."""

    async def login(attempt_timeout_s: float) -> None:
        async with asyncio.timeout(attempt_timeout_s):
            connection = await aio_pika.connect(url, timeout=attempt_timeout_s)
        await connection.close()

    await retry_until(rabbitmq(url), login, timeout_s)


def check(dependency: Dependency, timeout_s: float = 0.0) -> Unreachable | None:
    """Whether the dependency answers now (one attempt when ``timeout_s`` is 0): None, or why not."""
    wait = wait_for_postgres if dependency.setting == "DATABASE_URL" else wait_for_rabbitmq
    try:
        asyncio.run(wait(dependency.url, timeout_s))
    except Unreachable as error:
        return error
    return None


__all__ = [
    "Dependency",
    "Failure",
    "Unreachable",
    "check",
    "postgres",
    "rabbitmq",
    "retry_until",
    "unreachable",
    "wait_for_postgres",
    "wait_for_rabbitmq",
]
