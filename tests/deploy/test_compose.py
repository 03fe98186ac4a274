"""The compose stack: valid for the real compose implementation, and right: start order, scaling,
hardening, the gateway's routes, and Prometheus and Grafana wired to what the services expose."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    ALERTS,
    COMPOSE_DIR,
    COMPOSE_FILE,
    DASHBOARD,
    DOCKERFILE,
    run,
    tool,
    yaml_load,
)

SERVICES = ("api", "worker", "notifier")
OURS = (*SERVICES, "migrate")
PORT_VARS = {"api": "API_PORT", "worker": "WORKER_PORT", "notifier": "NOTIFIER_PORT"}


def clean_env() -> dict[str, str]:
    """No interpolation variable of the developer's shell may leak into the check."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(COMPOSE_DIR)}


def test_compose_config_quiet_passes() -> None:
    result = run([tool("docker-compose"), "-f", COMPOSE_FILE, "config", "--quiet"], env=clean_env())
    assert result.returncode == 0, result.stderr


def test_compose_binary_fails_on_a_wrong_file(tmp_path: Path) -> None:
    """The binary itself, not a wrapper that exits 0: a broken file must fail."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "services:\n  api:\n    image: x\n    depends_on:\n      db:\n        condition: sometime\n"
    )
    result = run([tool("docker-compose"), "-f", broken, "config", "--quiet"], env=clean_env())
    assert result.returncode != 0


def test_services_start_after_the_migration_and_the_broker(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["rabbitmq"]["condition"] == "service_healthy"
    gateway = services["gateway"]["depends_on"]
    assert {gateway["api"]["condition"], gateway["notifier"]["condition"]} == {"service_healthy"}


def test_infrastructure_has_healthchecks_and_volumes(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    for name, data_dir in (("postgres", "/var/lib/postgresql/data"), ("rabbitmq", "/var/lib/rabbitmq")):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
        volumes = {v["target"]: v for v in services[name]["volumes"]}
        assert volumes[data_dir]["type"] == "volume"
    plugins = (COMPOSE_DIR / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_prometheus" in plugins


def test_the_worker_scales(compose_config: dict[str, Any]) -> None:
    """`--scale worker=3` needs no fixed name and no published port."""
    worker = compose_config["services"]["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")


def test_our_containers_are_hardened(compose_config: dict[str, Any]) -> None:
    for name in (*OURS, "gateway"):
        service = compose_config["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service.get("user") in (None, ""), f"{name} must keep the image's non-root user"
    for name, service in compose_config["services"].items():
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert not service.get("privileged"), name
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this machine"


def test_each_service_is_built_from_its_dockerfile_target(compose_config: dict[str, Any]) -> None:
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE.read_text(), re.MULTILINE))
    for name in OURS:
        build = compose_config["services"][name]["build"]
        assert Path(build["context"]) / build["dockerfile"] == DOCKERFILE
        assert build["target"] == name
        assert build["target"] in stages


def test_stop_grace_outlasts_the_drain(compose_config: dict[str, Any]) -> None:
    unit_seconds = {"s": 1, "m": 60}
    for name in SERVICES:
        service = compose_config["services"][name]
        grace = service["stop_grace_period"]
        value = sum(float(n) * unit_seconds[u] for n, u in re.findall(r"(\d+)([sm])", grace))
        assert value > float(service["environment"]["SHUTDOWN_GRACE_S"]), name


def test_bind_mounts_exist(compose_config: dict[str, Any]) -> None:
    for name, service in compose_config["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name} mounts a missing {volume['source']}"


def nginx_locations() -> dict[str, str]:
    """location -> its block's text, from the gateway's nginx.conf."""
    text = (COMPOSE_DIR / "nginx.conf").read_text()
    return {m[1]: m[2] for m in re.finditer(r"location\s+(?:=\s*)?(\S+)\s*\{([^}]*)\}", text)}


def test_gateway_sends_the_websocket_to_the_notifier_and_the_rest_to_the_api(
    compose_config: dict[str, Any],
) -> None:
    text = (COMPOSE_DIR / "nginx.conf").read_text()
    upstreams = dict(re.findall(r"set \$(\w+) http://([\w:]+);", text))
    services = compose_config["services"]
    for upstream, service in (("api_upstream", "api"), ("notifier_upstream", "notifier")):
        host, port = upstreams[upstream].split(":")
        assert host == service
        assert port == services[service]["environment"][PORT_VARS[service]]
    locations = nginx_locations()
    ws = locations["/api/orders/ws"]
    assert "proxy_pass $notifier_upstream;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    timeout = re.search(r"proxy_read_timeout (\d+)s;", ws)
    assert timeout is not None
    assert int(timeout[1]) >= 3600
    assert "proxy_pass $api_upstream;" in locations["/"]
    gateway = services["gateway"]
    (port,) = gateway["ports"]
    assert (port["published"], port["target"]) == ("3000", 8080)  # the seed's port
    assert re.search(r"listen 8080;", text)


def test_prometheus_scrapes_every_service_and_rabbitmq(compose_config: dict[str, Any]) -> None:
    config = yaml_load((COMPOSE_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose_config["services"]
    for name in SERVICES:
        (sd,) = jobs[f"order-engine-{name}"]["dns_sd_configs"]
        assert sd["names"] == [name]
        assert str(sd["port"]) == services[name]["environment"][PORT_VARS[name]]
    rabbitmq = jobs["rabbitmq"]
    assert rabbitmq["metrics_path"] == "/metrics/detailed"
    assert set(rabbitmq["params"]["family"]) == {"queue_coarse_metrics", "queue_consumer_count"}
    assert rabbitmq["static_configs"][0]["targets"] == ["rabbitmq:15692"]
    mounts = {v["target"]: v["source"] for v in services["prometheus"]["volumes"] if v["type"] == "bind"}
    (rule_file,) = config["rule_files"]
    assert Path(mounts[rule_file]) == ALERTS


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    # The rule file's path is the container's; point it at the file compose mounts there.
    config = (COMPOSE_DIR / "prometheus.yml").read_text().replace("/etc/prometheus/alerts.yaml", str(ALERTS))
    (tmp_path / "prometheus.yml").write_text(config)
    result = run([tool("promtool"), "check", "config", tmp_path / "prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_gets_the_datasource_and_the_dashboard(compose_config: dict[str, Any]) -> None:
    grafana = compose_config["services"]["grafana"]
    mounts = {v["target"]: Path(v["source"]) for v in grafana["volumes"] if v["type"] == "bind"}
    provisioning = mounts["/etc/grafana/provisioning"]
    (datasource,) = yaml_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True
    (provider,) = yaml_load((provisioning / "dashboards" / "order-engine.yaml").read_text())["providers"]
    dashboards_dir = provider["options"]["path"]
    assert mounts[f"{dashboards_dir}/order-engine.json"] == DASHBOARD


@pytest.mark.parametrize("name", SERVICES)
def test_compose_healthchecks_ask_healthz_on_the_services_port(
    compose_config: dict[str, Any], name: str
) -> None:
    test = compose_config["services"][name]["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert "/healthz" in test[-1]
    assert f"'{PORT_VARS[name]}'" in test[-1]


OFFLINE_FILE = COMPOSE_DIR / "offline.yaml"
OFFLINE = {"postgres": "postgres", "rabbitmq": "rabbitmq", "gateway": "nginx", "prometheus": "prometheus"}


def test_offline_override_changes_only_the_third_party_images(compose_config: dict[str, Any]) -> None:
    """offline.yaml swaps the images Docker Hub would give for Debian-built ones and leaves Grafana out;
    everything else (environment, ports, volumes, healthchecks, commands) is compose.yaml's."""
    argv: list[str | Path] = [tool("docker-compose"), "-f", COMPOSE_FILE, "-f", OFFLINE_FILE, "config"]
    argv += ["--format", "json"]
    result = run(argv, env=clean_env())
    assert result.returncode == 0, result.stderr
    offline = json.loads(result.stdout)["services"]
    upstream = compose_config["services"]
    assert set(offline) == set(upstream) - {"grafana"}
    for name, service in offline.items():
        if name in OFFLINE:
            assert service["image"] == f"order-engine-offline-{OFFLINE[name]}:bookworm"
            assert service["pull_policy"] == "never"
            changed = {"image", "pull_policy"}
        else:
            changed = set()
        strip = {k: v for k, v in service.items() if k not in changed}
        assert strip == {k: v for k, v in upstream[name].items() if k not in changed}, name
    for name in OFFLINE.values():
        assert (COMPOSE_DIR / "offline" / name / "Dockerfile").exists()


@pytest.mark.parametrize("name", sorted(OFFLINE.values()))
def test_offline_dockerfiles_pass_hadolint(name: str) -> None:
    dockerfile = COMPOSE_DIR / "offline" / name / "Dockerfile"
    result = run([tool("hadolint"), "--failure-threshold", "style", dockerfile])
    assert result.returncode == 0, result.stdout + result.stderr
