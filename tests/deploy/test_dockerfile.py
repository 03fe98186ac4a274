"""The images: hadolint finds nothing, and each target is built the way the issue asks (uv sync --frozen
--no-dev per package, a non-root runtime, a healthcheck, the service's console script as entry point)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.deploy.support import DOCKERFILE, ROOT, dockerfile_programs, run, tool

TARGETS = {
    "api": ("orders-api", "services/api", "API_PORT"),
    "worker": ("orders-worker", "services/worker", "WORKER_PORT"),
    "notifier": ("orders-notifier", "services/notifier", "NOTIFIER_PORT"),
    "migrate": ("orders-migrate", "shared", None),
}


def stages() -> dict[str, str]:
    """Each named stage's text (continuation lines joined), keyed by its name."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    parts = re.split(r"^FROM\s+", text, flags=re.MULTILINE)[1:]
    named: dict[str, str] = {}
    for part in parts:
        header = part.splitlines()[0]
        match = re.search(r"\sAS\s+(\S+)", header, re.IGNORECASE)
        if match:
            named[match[1]] = "FROM " + part
    return named


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), "--failure-threshold", "style", DOCKERFILE])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_base_image_dockerfile_passes_hadolint() -> None:
    result = run(
        [tool("hadolint"), "--failure-threshold", "style", DOCKERFILE.parent / "base" / "python.Dockerfile"]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_builds_pull_no_frontend_and_take_certificates_only_as_a_secret() -> None:
    """No `# syntax=` line (it would pull a frontend image); every RUN that downloads mounts the CA
    store as a build secret, and nothing COPYs or ADDs a certificate into a layer."""
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    runs = re.findall(r"^RUN (.*)$", re.sub(r"\\\n\s*", " ", text), re.MULTILINE)
    downloads = [r for r in runs if "pip install" in r or "uv sync" in r]
    assert len(downloads) == 9
    for command in downloads:
        assert "--mount=type=secret,id=ca-certificates" in command, command
    assert not re.search(r"^(COPY|ADD)\b.*(\.crt|\.pem|ssl)", text, re.MULTILINE | re.IGNORECASE)


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    result = run([tool("hadolint"), bad])
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_execs_its_console_script(target: str) -> None:
    script, member, _ = TARGETS[target]
    programs = dockerfile_programs(DOCKERFILE)
    assert programs[target] == [script]
    pyproject = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
    assert script in pyproject["project"]["scripts"]


@pytest.mark.parametrize("target", TARGETS)
def test_each_image_is_built_from_the_lockfile_for_its_package_only(target: str) -> None:
    _, member, _ = TARGETS[target]
    package = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]["name"]
    build = stages()[f"build-{target}"]
    syncs = re.findall(r"uv sync ([^\n]*)", build)
    assert len(syncs) == 2
    for flags in syncs:
        assert {"--frozen", "--no-dev"} <= set(flags.split())
        assert f"--package {package}" in flags
    assert "--no-editable" in syncs[-1]
    final = stages()[target]
    assert re.search(rf"^COPY --from=build-{target} /app/.venv /app/.venv$", final, re.MULTILINE)


def test_runtime_is_slim_non_root_and_stops_on_sigterm() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim", text, re.MULTILINE)
    runtime = stages()["runtime"]
    assert runtime.startswith("FROM ${PYTHON_IMAGE} AS runtime")
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert re.search(r"^STOPSIGNAL SIGTERM$", runtime, re.MULTILINE)
    # No build tool reaches the images: uv and the sources stay in the build stages.
    assert "uv" not in re.sub(r"#.*", "", runtime).split()
    for label in ("version", "revision", "created", "vendor", "licenses", "base.name"):
        assert f"org.opencontainers.image.{label}=" in runtime
    for target in TARGETS:
        final = stages()[target]
        assert final.startswith(f"FROM runtime AS {target}")
        assert "USER" not in re.sub(r"#.*", "", final), "a final stage must not change the user"
        assert f'org.opencontainers.image.title="order-engine-{target}"' in final


@pytest.mark.parametrize("target", [t for t, (_, _, port) in TARGETS.items() if port])
def test_each_service_image_checks_its_healthz(target: str) -> None:
    _, _, port_var = TARGETS[target]
    final = stages()[target]
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*$", final, re.MULTILINE)
    assert "/healthz" in healthcheck
    assert f"'{port_var}'" in healthcheck
    assert re.search(r"^EXPOSE \d+$", final, re.MULTILINE)


def test_dockerignore_is_an_allow_list_that_keeps_secrets_out() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = [line[1:] for line in lines if line.startswith("!")]
    for path in allowed:
        assert (ROOT / path.rstrip("/")).exists(), f".dockerignore allows {path}, which does not exist"
        assert not re.match(r"(\.env|\.git|\.venv|\.tools|tests|deploy)(/|$)", path)
    # Whatever the Dockerfile COPYs from the context is allowed in.
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert any(source == a.rstrip("/") or source.startswith(a) for a in allowed), source


def test_every_build_argument_a_stage_uses_is_declared_in_it() -> None:
    """An ARG from before the first FROM is empty inside a stage unless the stage declares it again."""
    for stage, text in stages().items():
        body = text.split("\n", 1)[1]  # the FROM line may use the global ARGs
        declared = set(re.findall(r"^(?:ARG|ENV)\s+(\w+)", body, re.MULTILINE))
        declared |= {
            name
            for line in re.findall(r"^ENV\s+(.*)$", body, re.MULTILINE)
            for name in re.findall(r"(\w+)=", line)
        }
        used = set(re.findall(r"\$\{(\w+)", re.sub(r"^\s*#.*$", "", body, flags=re.MULTILINE)))
        used -= {"PATH"}
        assert used <= declared, f"stage {stage} uses {sorted(used - declared)} without declaring them"
