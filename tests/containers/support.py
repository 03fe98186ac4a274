"""What the container tests share: the docker CLI, the images' names, the chart's securityContext as
`docker run` options, and the lines the session prints at its end (build time, image sizes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.deploy.support import ROOT, Manifest, render

IMAGE_PREFIX = os.environ.get("IMAGE_PREFIX", "order-engine")
IMAGE_TAG = os.environ.get("IMAGE_TAG", "dev")
DEBIAN_SUITE = os.environ.get("DEBIAN_SUITE", "bookworm")
SERVICES = ("api", "worker", "notifier")
TARGETS = (*SERVICES, "migrate")
OFFLINE = ("postgres", "rabbitmq", "nginx", "prometheus")
# An image may weigh this much above its base (the budget).
SIZE_BUDGET = 120 * 1000 * 1000

# Printed at the end of the session by conftest.pytest_terminal_summary.
REPORT: list[str] = []


def docker_cli() -> str:
    """The CLI `make images` uses too (deploy.mk): `docker` when it has buildx, else Debian's own."""
    if os.environ.get("DOCKER"):
        return os.environ["DOCKER"]
    docker = shutil.which("docker")
    if docker and run_quiet([docker, "buildx", "version"]):
        return docker
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    return docker or "docker"


def run_quiet(argv: Sequence[str], timeout: float = 20) -> bool:
    """Whether a command succeeds."""
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One docker CLI call; a failure (when checked) carries docker's message."""
    result = subprocess.run(
        [docker_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}")
    return result


def image(target: str) -> str:
    """Our image of a Dockerfile target."""
    return f"{IMAGE_PREFIX}-{target}:{IMAGE_TAG}"


def offline_image(name: str) -> str:
    """An image of deploy/compose/offline/."""
    return f"{IMAGE_PREFIX}-offline-{name}:{DEBIAN_SUITE}"


def inspect(ref: str, kind: str = "image") -> dict[str, Any]:
    """`docker <kind> inspect` of one object."""
    found: list[dict[str, Any]] = json.loads(docker(kind, "inspect", ref).stdout)
    return found[0]


def health(container: str) -> str:
    """The container's health status (starting, healthy, unhealthy), or its state when it has stopped."""
    state = inspect(container, "container")["State"]
    if not state["Running"]:
        return f"exited {state['ExitCode']}"
    return str(state.get("Health", {}).get("Status", "none"))


def wait_healthy(container: str, timeout: float) -> float:
    """Seconds until Docker reports the container healthy by its HEALTHCHECK."""
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < timeout:
        status = health(container)
        if status == "healthy":
            return time.monotonic() - start
        if status.startswith("exited") or status == "unhealthy":
            break
        time.sleep(0.5)
    logs = docker("logs", "--tail", "60", container, check=False)
    raise AssertionError(f"{container} is {status}, not healthy:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")


def _pod_spec(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def chart_workloads() -> dict[str, Manifest]:
    """The rendered chart's Deployment per service and the migration Job, by image target."""
    workloads: dict[str, Manifest] = {}
    for manifest in render().objects:
        component = manifest.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component")
        if manifest["kind"] == "Deployment" and component in SERVICES:
            workloads[component] = manifest
        elif manifest["kind"] == "Job" and "migrate" in manifest["metadata"]["name"]:
            workloads["migrate"] = manifest
    assert set(workloads) == set(TARGETS), sorted(workloads)
    return workloads


def security_options(workload: Manifest) -> list[str]:
    """The pod's and its container's securityContext, resources and volumes as `docker run` options.

    Every field the chart sets is mapped or refused: a new field fails here instead of going unchecked.
    """
    pod = _pod_spec(workload)
    (container,) = pod["containers"]
    context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    options: list[str] = []
    for key, value in context.items():
        if key == "runAsUser":
            options += ["--user", f"{value}:{context.get('runAsGroup', value)}"]
        elif key == "runAsNonRoot":
            assert value is True
            assert context["runAsUser"] != 0
        elif key in ("runAsGroup", "fsGroup"):
            assert value == context.get("runAsGroup", value)  # part of --user; no volume to own
        elif key == "readOnlyRootFilesystem":
            assert value is True
            options.append("--read-only")
        elif key == "allowPrivilegeEscalation":
            assert value is False
            options += ["--security-opt", "no-new-privileges"]
        elif key == "privileged":
            assert value is False  # docker's default
        elif key == "capabilities":
            assert set(value) <= {"drop"}, value
            options += [f"--cap-drop={cap}" for cap in value["drop"]]
        elif key == "seccompProfile":
            assert value == {"type": "RuntimeDefault"}  # docker's default profile
        else:
            raise AssertionError(f"securityContext.{key} has no docker run equivalent here")
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, volume
        size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m")
        options += ["--tmpfs", f"{mount['mountPath']}:size={size},mode=1777"]
    memory = container.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        options += ["--memory", memory.replace("Mi", "m").replace("Gi", "g")]
    return options


def grace_seconds(workload: Manifest) -> float:
    """How long a stopping pod has after SIGTERM: the grace period less the preStop pause before it."""
    pod = _pod_spec(workload)
    grace = float(pod.get("terminationGracePeriodSeconds", 30))
    (container,) = pod["containers"]
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if command[:1] == ["sleep"]:
        grace -= float(command[1])
    return grace


def repo_path(path: str) -> Path:
    """A path of the repository."""
    return ROOT / path
