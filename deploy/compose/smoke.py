"""Run the compose services as this machine's processes, exactly as compose.yaml states them, and check an
order end to end (`make compose-smoke`; no Docker engine needed).

What is taken from the files, not repeated here:
  - each service's environment, from `docker-compose config` (the real compose implementation, with
    its interpolation and YAML merges resolved);
  - each service's program, from the ENTRYPOINT/CMD of its build target in deploy/docker/Dockerfile
    (and compose's own `entrypoint`/`command` when it sets one);
  - the order: the one-shot `migrate` must exit 0 before api, worker and notifier start;
  - each service's compose healthcheck command, run against the live process.

What is replaced, and only that: DATABASE_URL and AMQP_URL point at a fresh database on this machine's
Postgres and a fresh vhost on its RabbitMQ (both dropped at the end); the venue latencies are set to 0
for speed; with `--ports free` the *_PORT settings get free ports. Nothing else of the developer's
environment reaches the services, so a setting missing from compose.yaml is not silently filled in.

The check: every service answers /readyz and its healthcheck, an order POSTed to the api is followed on
the notifier's WebSocket to `confirmed`, every service's /metrics answers (the names are written to
--metrics-out as JSON), and every service stops cleanly on SIGTERM within its stop_grace_period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose" / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
BIN = Path(sys.executable).parent
SERVICES = ("api", "worker", "notifier")
PORT_VARS = {"api": "API_PORT", "worker": "WORKER_PORT", "notifier": "NOTIFIER_PORT"}
ADMIN_DATABASE_URL = os.environ.get(
    "SMOKE_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_BASE = os.environ.get("SMOKE_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
RABBITMQ_USER = os.environ.get("SMOKE_RABBITMQ_USER", "guest")
ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}
FAST = {"VENUE_QUOTE_LATENCY_MS": "0", "VENUE_EXECUTE_LATENCY_MS": "0"}


class SmokeError(Exception):
    """The compose services did not do what the check expects."""


_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress, on stderr."""
    sys.stderr.write(f"compose-smoke [{time.monotonic() - _STARTED:5.1f}s] {message}\n")
    sys.stderr.flush()


# --- what the files say ----------------------------------------------------------------------------------


def compose_config(compose_bin: str) -> dict[str, Any]:
    """compose.yaml as the real compose implementation resolves it, with a clean environment so that
    the developer's shell cannot change an interpolated value."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
    result = subprocess.run(
        [compose_bin, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise SmokeError(f"docker-compose config failed:\n{result.stderr}")
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def dockerfile_programs(path: Path = DOCKERFILE) -> dict[str, list[str]]:
    """ENTRYPOINT + CMD (exec form) of every stage, following `FROM <stage>` to inherit them."""
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            if match is None:
                raise SmokeError(f"cannot read: {line}")
            current = {"parent": match[1], "entrypoint": None, "cmd": None}
            if match[2]:
                stages[match[2]] = current
        elif instruction in ("ENTRYPOINT", "CMD") and current is not None:
            value = json.loads(rest) if rest.lstrip().startswith("[") else ["/bin/sh", "-c", rest]
            current[instruction.lower()] = value

    def resolve(name: str, key: str) -> list[str] | None:
        stage = stages.get(name)
        while stage is not None:
            if stage[key] is not None:
                found: list[str] = stage[key]
                return found
            stage = stages.get(stage["parent"])
        return None

    return {name: (resolve(name, "entrypoint") or []) + (resolve(name, "cmd") or []) for name in stages}


def service_argv(service: dict[str, Any], programs: Mapping[str, list[str]]) -> list[str]:
    """The process a container of this service runs: compose's entrypoint/command over the image's."""
    target = service["build"]["target"]
    image_entrypoint = programs.get(target)
    if image_entrypoint is None:
        raise SmokeError(f"no stage {target!r} in {DOCKERFILE}")
    entrypoint = service.get("entrypoint") or image_entrypoint
    command = service.get("command") or []
    argv = [*entrypoint, *command]
    if not argv:
        raise SmokeError(f"target {target!r} has neither ENTRYPOINT nor CMD")
    # The image's PATH puts the venv first; here it is the project's venv, which holds every service.
    program = BIN / argv[0]
    if not program.exists():
        raise SmokeError(f"{argv[0]} is not installed in {BIN} (run `make install`)")
    return [str(program), *argv[1:]]


def seconds(duration: str | None, default: float) -> float:
    """A compose duration ("45s", "1m30s") in seconds."""
    if not duration:
        return default
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|us|h|m|s)", duration):
        total += float(number) * units[unit]
    return total


# --- this machine's Postgres and RabbitMQ ---------------------------------------------------------------


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database (the migrate step creates the schema); dropped at the end."""
    name = f"orders_smoke_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl(*args: str) -> None:
    """Run rabbitmqctl quietly."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def fresh_vhost() -> Iterator[str]:
    """A new vhost the local user may use; deleted at the end."""
    vhost = f"orders-smoke-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, RABBITMQ_USER, ".*", ".*", ".*")
        yield f"{AMQP_BASE.rstrip('/')}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


# --- processes -------------------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def base_env() -> dict[str, str]:
    """What the image itself puts in the environment (see the Dockerfile's runtime stage)."""
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        "HOME": tempfile.gettempdir(),
    }


@dataclass
class Process:
    """One service process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    grace: float

    def output(self) -> str:
        """What it wrote so far."""
        return self.log.read_text(errors="replace")[-4000:]


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path, grace: float) -> Process:
    """Start a service in the background."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir()
        )
    say(f"started {name}: {shlex.join(argv)}")
    return Process(name, popen, log, env, grace)


def stop(process: Process) -> int:
    """SIGTERM, as Docker's STOPSIGNAL, and wait up to the stop_grace_period before SIGKILL."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
    try:
        return process.popen.wait(timeout=process.grace)
    except subprocess.TimeoutExpired:
        process.popen.kill()
        process.popen.wait()
        raise SmokeError(f"{process.name} did not exit within {process.grace}s of SIGTERM") from None


def wait_ready(process: Process, url: str, timeout: float) -> None:
    """Poll /readyz until 200; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise SmokeError(f"{process.name} exited {process.popen.returncode}:\n{process.output()}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # readiness offers no event to await: poll it
    raise SmokeError(f"{process.name} not ready after {timeout}s:\n{process.output()}")


def run_healthcheck(name: str, service: dict[str, Any], env: dict[str, str]) -> None:
    """The compose healthcheck's command, as Docker would run it inside the container."""
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        raise SmokeError(f"{name} has no healthcheck in compose.yaml")
    kind, *argv = test
    if kind == "CMD-SHELL":
        argv = ["/bin/sh", "-c", argv[0]]
    elif kind != "CMD":
        raise SmokeError(f"{name}: unexpected healthcheck form {kind}")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=10)
    if result.returncode != 0:
        raise SmokeError(f"{name}'s healthcheck failed: {result.stderr.strip()}")
    say(f"{name}: healthcheck passed")


async def follow_order(api: str, ws_base: str, wait_s: float) -> list[dict[str, Any]]:
    """POST an order and read its events on the notifier's WebSocket until it is confirmed."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{api}/api/orders/execute", json=ORDER)
    if response.status_code != 202:
        raise SmokeError(f"POST /api/orders/execute answered {response.status_code}: {response.text}")
    order_id = response.json()["orderId"]
    say(f"order {order_id} accepted")
    messages: list[dict[str, Any]] = []
    async with (
        asyncio.timeout(wait_s),
        websockets.connect(f"{ws_base}/api/orders/ws?orderId={order_id}") as ws,
    ):
        async for frame in ws:
            message = json.loads(frame)
            messages.append(message)
            status = message.get("status")
            say(f"order {order_id}: {status}")
            if status == "confirmed":
                return messages
            if status == "failed":
                raise SmokeError(f"order failed: {message}")
    raise SmokeError(f"the socket closed before `confirmed`: {messages}")


def scrape(url: str) -> dict[str, Any]:
    """What a service exposes on /metrics: its sample names, and its metric families with their types
    (a family with labels and no observation yet has a TYPE line and no sample)."""
    response = httpx.get(f"{url}/metrics", timeout=5)
    response.raise_for_status()
    samples: set[str] = set()
    families: dict[str, str] = {}
    for line in response.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            families[name] = kind
        elif line and not line.startswith("#"):
            samples.add(line.split("{", 1)[0].split(" ", 1)[0])
    return {"samples": sorted(samples), "families": families}


# --- the check -------------------------------------------------------------------------------------------


def smoke(compose_bin: str, ports: str, metrics_out: Path | None, timeout: float) -> None:
    """The whole check; raises SmokeError on the first thing that is not right."""
    config = compose_config(compose_bin)
    services: dict[str, Any] = config["services"]
    programs = dockerfile_programs()
    for name in (*SERVICES, "migrate"):
        if name not in services:
            raise SmokeError(f"compose.yaml has no service {name!r}")
    for name in SERVICES:
        condition = services[name].get("depends_on", {}).get("migrate", {}).get("condition")
        if condition != "service_completed_successfully":
            raise SmokeError(f"{name} must wait for migrate to complete (depends_on condition: {condition})")

    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="compose-smoke-") as tmp:
        database_url = cleanup.enter_context(fresh_database())
        amqp_url = cleanup.enter_context(fresh_vhost())
        say(f"database {database_url.rsplit('/', 1)[1]}, vhost {amqp_url.rsplit('/', 1)[1]}")
        overrides = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url}

        def env_of(name: str) -> dict[str, str]:
            compose_env = {k: str(v) for k, v in (services[name].get("environment") or {}).items()}
            return {**base_env(), **compose_env, **overrides}

        # migrate: a one-shot that must exit 0 before anything else starts.
        migrate_env = env_of("migrate")
        migrate = subprocess.run(
            service_argv(services["migrate"], programs),
            env=migrate_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if migrate.returncode != 0:
            raise SmokeError(f"migrate exited {migrate.returncode}:\n{migrate.stdout}\n{migrate.stderr}")
        say("migrate exited 0")

        processes: dict[str, Process] = {}
        urls: dict[str, str] = {}
        for name in SERVICES:
            env = {**env_of(name), **(FAST if name == "worker" else {})}
            port_var = PORT_VARS[name]
            if port_var not in env:
                raise SmokeError(f"compose.yaml does not give {name} its {port_var}")
            if ports == "free":
                env[port_var] = str(free_port())
            elif not port_is_free(int(env[port_var])):
                raise SmokeError(f"port {env[port_var]} ({name}) is taken here; run with --ports free")
            urls[name] = f"http://127.0.0.1:{env[port_var]}"
            grace = seconds(services[name].get("stop_grace_period"), 10)
            process = start(name, service_argv(services[name], programs), env, Path(tmp), grace)
            processes[name] = process
            cleanup.callback(lambda p=process: p.popen.poll() is None and p.popen.kill())

        for name, process in processes.items():
            wait_ready(process, urls[name], timeout)
            say(f"{name} ready at {urls[name]}")
            run_healthcheck(name, services[name], process.env)

        ws_base = urls["notifier"].replace("http://", "ws://")
        messages = asyncio.run(follow_order(urls["api"], ws_base, timeout))
        statuses = [m.get("status") for m in messages]
        say(f"events: {statuses}")

        scraped = {name: scrape(url) for name, url in urls.items()}
        if metrics_out is not None:
            metrics_out.write_text(json.dumps(scraped, indent=2) + "\n")
        say("metrics: " + ", ".join(f"{name} {len(s['families'])} families" for name, s in scraped.items()))

        for name in reversed(SERVICES):
            code = stop(processes[name])
            # 0, or death by the SIGTERM itself re-raised after a clean shutdown (uvicorn does that,
            # so the exit status says why the process ended; Docker reports it as 143).
            if code not in (0, -signal.SIGTERM):
                raise SmokeError(f"{name} exited {code} on SIGTERM:\n{processes[name].output()}")
            say(f"{name} stopped on SIGTERM (exit {code})")


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 when the compose services pass, 1 with the reason when they do not."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compose-bin", default=str(ROOT / ".tools" / "bin" / "docker-compose"))
    parser.add_argument(
        "--ports",
        choices=("compose", "free"),
        default="compose",
        help="compose: the ports compose.yaml gives (8000, 8001, 8002); free: any free ports",
    )
    parser.add_argument("--metrics-out", type=Path, help="write the scraped metric names here (JSON)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds for each wait")
    args = parser.parse_args(argv)
    if not Path(args.compose_bin).exists():
        say(f"{args.compose_bin} is missing: run `make tools`")
        return 1
    try:
        smoke(args.compose_bin, args.ports, args.metrics_out, args.timeout)
    except (SmokeError, subprocess.CalledProcessError, TimeoutError, httpx.HTTPError, OSError) as error:
        say(f"FAILED: {error}")
        return 1
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
