"""What the deploy tests share: where things are, the pinned tools of `make tools`, rendering the chart.

A tool that is missing skips its tests with the reason; `make test` installs them all first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / os.environ.get("TOOLS", ".tools")
TOOLS_BIN = TOOLS / "bin"
CHART = ROOT / "deploy" / "helm" / "order-engine"
ALL_FEATURES = CHART / "ci" / "all-features-values.yaml"
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DASHBOARD = ROOT / "deploy" / "grafana" / "order-engine.json"
ALERTS = CHART / "files" / "alerts.yaml"
ALERTS_TEST = Path(__file__).with_name("alerts-test.yaml")
ENV_EXAMPLE = ROOT / "env.example"
CRD_VALIDATOR = Path(__file__).parent / "crd" / "validate.mjs"
CRD_MODULES = TOOLS / "crd-validate" / "node_modules"
KUBE_VERSION = "1.30"
RELEASE = "order-engine"

Manifest = dict[str, Any]

# PyYAML (there through uvicorn[standard]) ships no type hints. These typed helpers are the deploy
# tests' only door to it, so mypy --strict needs no stubs package; safe loaders only.
_yaml: Any = importlib.import_module("yaml")


def yaml_load(text: str) -> Any:
    """One YAML document."""
    return _yaml.safe_load(text)


def yaml_load_all(text: str) -> list[Any]:
    """Every non-empty document of a YAML stream."""
    return [doc for doc in _yaml.safe_load_all(text) if doc]


def yaml_dump(data: Any) -> str:
    """YAML text of a value."""
    return str(_yaml.safe_dump(data))


def tool(name: str) -> Path:
    """A binary of `make tools`, or a skip naming what is missing."""
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not installed: run `make tools`")
    return path


def run(argv: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a tool; the caller asserts on the outcome."""
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, timeout=120, **kwargs
    )


@dataclass(frozen=True)
class Rendered:
    """`helm template` output: the text (for the validators) and the parsed objects (for assertions)."""

    text: str
    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        """Every object of a kind."""
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        """The one object of a kind and name."""
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
        return found[0]


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with extra arguments (values files, --set)."""
    helm = tool("helm")
    return run([helm, "template", RELEASE, CHART, "--kube-version", KUBE_VERSION, *args])


def render(*args: str) -> Rendered:
    """Render the chart, failing the test with helm's message if it does not render."""
    result = helm_template(*args)
    assert result.returncode == 0, result.stderr
    objects = yaml_load_all(result.stdout)
    return Rendered(result.stdout, objects)


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
            assert match is not None, f"cannot read: {line}"
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


def node() -> str:
    """The node binary, or a skip."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed: the CRD validator needs it")
    if not CRD_MODULES.exists():
        pytest.skip(f"{CRD_MODULES.relative_to(ROOT)} is missing: run `make tools`")
    return found
