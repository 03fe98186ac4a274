"""Each image on the real Docker engine, run the way the Helm chart runs it: the chart's own
securityContext, resources and volumes (read from the rendered chart) as `docker run` options.

A service image becomes healthy by its own HEALTHCHECK against this machine's Postgres and RabbitMQ
(host network, a database and vhost of the test's own) and exits 0 on SIGTERM within the grace the
chart gives it; the migrate image migrates a fresh database and exits 0; no image holds a compiler, pip
or uv, and none weighs more than the budget above its base.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import pool

from orders_shared.migrate import sqlalchemy_url
from tests.containers.support import (
    REPORT,
    SERVICES,
    SIZE_BUDGET,
    TARGETS,
    chart_workloads,
    docker,
    grace_seconds,
    image,
    inspect,
    security_options,
    wait_healthy,
)
from tests.support.infra import throwaway_database, throwaway_vhost
from tests.support.services import free_port

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

PORT_VARS = {"api": "API_PORT", "worker": "WORKER_PORT", "notifier": "NOTIFIER_PORT"}
CA_STORE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_VARS = {"api": "API_HOST", "worker": "WORKER_HOST", "notifier": "NOTIFIER_HOST"}


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database of this test's own with nothing in it; dropped afterwards."""
    with throwaway_database("orders_image", migrated=False) as url:
        yield url


def env_options(env: dict[str, str]) -> list[str]:
    return [option for key, value in env.items() for option in ("--env", f"{key}={value}")]


@pytest.mark.parametrize("target", SERVICES)
def test_service_image_is_healthy_under_the_charts_security_context_and_stops_on_sigterm(
    built: str, target: str
) -> None:
    workload = chart_workloads()[target]
    grace = grace_seconds(workload)
    port = free_port()
    name = f"oe-image-{target}-{uuid.uuid4().hex[:8]}"
    with throwaway_database("orders_image") as database_url, throwaway_vhost("orders-image") as amqp_url:
        env = {
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            HOST_VARS[target]: "127.0.0.1",
            PORT_VARS[target]: str(port),
            "LOG_FORMAT": "json",
            "SHUTDOWN_GRACE_S": "10",
        }
        docker(
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            # The image's HEALTHCHECK command, asked every second instead of every 15 s.
            "--health-interval",
            "1s",
            *security_options(workload),
            *env_options(env),
            image(target),
        )
        try:
            seconds = wait_healthy(name, timeout=60)
            REPORT.append(f"{image(target)}: healthy after {seconds:.1f} s")
            # Really running as the chart says: uid, read-only root, no capabilities.
            status = docker("exec", name, "cat", "/proc/1/status").stdout
            assert "\nUid:\t10001\t10001\t10001\t10001" in status
            assert "\nCapEff:\t0000000000000000" in status
            assert "\nNoNewPrivs:\t1" in status
            write = docker("exec", name, "touch", "/app/x", check=False)
            assert write.returncode != 0
            assert "Read-only file system" in write.stderr

            start = time.monotonic()
            docker("kill", "--signal", "TERM", name)
            waited = docker("wait", name, timeout=grace + 10)
            elapsed = time.monotonic() - start
            logs = docker("logs", "--tail", "30", name, check=False)
            assert waited.stdout.strip() == "0", logs.stdout[-3000:] + logs.stderr[-3000:]
            assert elapsed < grace, f"{target} took {elapsed:.1f} s to stop; its grace is {grace} s"
            REPORT.append(f"{image(target)}: exit 0 {elapsed:.1f} s after SIGTERM (grace {grace:.0f} s)")
        finally:
            docker("rm", "--force", name, check=False)


def test_migrate_image_migrates_a_fresh_database_and_exits_0(built: str, empty_database: str) -> None:
    workload = chart_workloads()["migrate"]
    result = docker(
        "run",
        "--rm",
        "--network",
        "host",
        *security_options(workload),
        "--env",
        f"DATABASE_URL={empty_database}",
        image("migrate"),
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    engine = sa.create_engine(sqlalchemy_url(empty_database), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            tables = set(
                conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
    finally:
        engine.dispose()
    assert version
    assert {"orders", "pools", "executions"} <= tables


# Run inside each image by its own interpreter: nothing that builds or installs may be there.
NO_BUILD_TOOLS = """
import importlib.util, shutil, sys
tools = ["gcc", "cc", "c++", "g++", "clang", "make", "pip", "pip3", "uv", "uvx"]
found = [t for t in tools if shutil.which(t)]
found += [m for m in ("pip", "uv") if importlib.util.find_spec(m)]
print(" ".join(found))
sys.exit(1 if found else 0)
"""


@pytest.mark.parametrize("target", TARGETS)
def test_image_holds_no_compiler_pip_or_uv_and_keeps_to_its_size_budget(built: str, target: str) -> None:
    result = docker(
        "run",
        "--rm",
        "--read-only",
        "--entrypoint",
        "python",
        image(target),
        "-c",
        NO_BUILD_TOOLS,
        check=False,
    )
    assert result.returncode == 0, f"{image(target)} holds {result.stdout.strip()} {result.stderr[-2000:]}"

    size = int(inspect(image(target))["Size"])
    base = int(inspect(built)["Size"])
    above = size - base
    REPORT.append(
        f"{image(target)}: {size / 1e6:.0f} MB, {above / 1e6:.0f} MB above {built} ({base / 1e6:.0f} MB)"
    )
    assert above <= SIZE_BUDGET, f"{image(target)} is {above / 1e6:.0f} MB above its base"


def test_the_build_secret_stays_out_of_the_images(built: str, tmp_path: Path) -> None:
    """The machine's CA store went to the build as a secret: none of its own certificates (those the
    images' Debian bundle lacks, such as a TLS proxy's CA) is in any layer of any image."""
    host = CA_STORE.read_text() if CA_STORE.exists() else ""
    bundle = docker("run", "--rm", "--entrypoint", "cat", image("api"), str(CA_STORE)).stdout
    own = [cert for cert in pem_bodies(host) if cert not in set(pem_bodies(bundle))]
    if not own:
        pytest.skip("the machine's CA store holds no certificate that Debian's bundle lacks")
    archive = tmp_path / "images.tar"
    docker("save", "--output", str(archive), *(image(target) for target in TARGETS), timeout=300)
    data = archive.read_bytes()
    leaked = [cert[:40] for cert in own if cert.encode() in data]
    assert not leaked, f"certificates of the build secret found in an image: {leaked}"
    for target in TARGETS:
        listing = docker("run", "--rm", "--entrypoint", "ls", image(target), "/run/secrets", check=False)
        assert not listing.stdout.strip()


def pem_bodies(text: str) -> list[str]:
    """The base64 body of each certificate of a PEM bundle, on one line (how a tar member holds it,
    less its line breaks, which the search does not need: any 64-character line is distinctive)."""
    return [
        block.split("-----BEGIN CERTIFICATE-----", 1)[1].strip().splitlines()[1]
        for block in text.split("-----END CERTIFICATE-----")
        if "-----BEGIN CERTIFICATE-----" in block
    ]
