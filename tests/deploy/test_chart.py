"""The Helm chart: linted, rendered, validated against Kubernetes 1.30 and the CRDs' schemas, and read for
what a production cluster needs (non-root, probes, resources, hook order, routes, autoscaling)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    ALERTS,
    ALL_FEATURES,
    CHART,
    CRD_MODULES,
    CRD_VALIDATOR,
    DASHBOARD,
    KUBE_VERSION,
    Manifest,
    Rendered,
    helm_template,
    node,
    render,
    run,
    tool,
    yaml_dump,
    yaml_load,
)
from tests.deploy.values_schema import render as render_values_schema

COMPONENTS = ("api", "worker", "notifier")
# Custom resources kubernetes-validate has no schema for; tests/deploy/crd/validate.mjs checks them.
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"})


def name(component: str) -> str:
    """The object name of a component in the test release."""
    return f"order-engine-{component}"


def pod_spec(workload: Manifest) -> dict[str, Any]:
    """The pod spec of a Deployment or Job."""
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def hook_weight(manifest: Manifest) -> int:
    """A hook's helm.sh/hook-weight (0 when unset)."""
    return int(manifest["metadata"].get("annotations", {}).get("helm.sh/hook-weight", "0"))


def hooks(manifest: Manifest) -> set[str]:
    """The hook events an object runs on."""
    value = manifest["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    return {h.strip() for h in value.split(",") if h.strip()}


# --- the real tools ------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_FEATURES)]], ids=["default", "all-features"])
def test_helm_lint_strict_passes(values: list[str]) -> None:
    result = run([tool("helm"), "lint", "--strict", CHART, *values])
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_manifests_pass_kubernetes_validate_strict(rendered: Rendered, tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(rendered.text)
    result = run([tool("kubernetes-validate"), "--strict", "-k", KUBE_VERSION, manifest])
    assert result.returncode == 0, result.stdout + result.stderr
    # A kind without a schema is only a warning to kubernetes-validate: allow exactly the custom
    # resources the CRD validator covers, so a mistyped apiVersion cannot pass unchecked.
    unchecked = set(re.findall(r"Couldn't find schema for kind (\S+)", result.stdout))
    assert unchecked <= CRD_KINDS, result.stdout
    passed = result.stdout.count("passed for resource")
    assert passed == len([o for o in rendered.objects if o["kind"] not in CRD_KINDS])


def test_custom_resources_pass_their_crd_schemas(rendered_all: Rendered, tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(rendered_all.text)
    result = run([node(), CRD_VALIDATOR, CRD_MODULES, manifest])
    assert result.returncode == 0, result.stdout + result.stderr
    checked = set(re.findall(r"INFO \S+ (\w+)/", result.stdout))
    assert checked == CRD_KINDS


def test_crd_validator_rejects_a_wrong_custom_resource(rendered_all: Rendered, tmp_path: Path) -> None:
    scaled = rendered_all.get("ScaledObject", name("worker"))
    broken = {**scaled, "spec": {**scaled["spec"], "maxReplicaCount": "many"}}
    unknown = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    for doc in (broken, unknown):
        manifest = tmp_path / "broken.yaml"
        manifest.write_text(yaml_dump(doc))
        result = run([node(), CRD_VALIDATOR, CRD_MODULES, manifest])
        assert result.returncode == 1, result.stdout + result.stderr


def test_values_schema_is_generated_from_the_settings() -> None:
    committed = (CHART / "values.schema.json").read_text()
    assert committed == render_values_schema(), (
        "values.schema.json is stale: run "
        "`.venv/bin/python -m tests.deploy.values_schema > deploy/helm/order-engine/values.schema.json`"
    )


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("api.config.API_PORT=http", "API_PORT"),
        ("worker.config.WORKER_CONCURRENCY=0", "WORKER_CONCURRENCY"),
        ("config.LOG_LEVEL=verbose", "LOG_LEVEL"),
        ("worker.config.NOT_A_SETTING=1", "NOT_A_SETTING"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("secret.DATABASE_URL=mysql://db/orders", "DATABASE_URL"),
    ],
)
def test_values_schema_rejects_wrong_values(override: str, complaint: str) -> None:
    result = helm_template("--set", override)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_chart_refuses_a_grace_period_shorter_than_the_drain() -> None:
    result = helm_template("--set", "worker.terminationGracePeriodSeconds=20")
    assert result.returncode != 0
    assert "worker.terminationGracePeriodSeconds" in result.stderr


# --- what the rendered manifests say ------------------------------------------------------------------


def test_each_service_has_a_deployment_service_account_and_budget(rendered: Rendered) -> None:
    for component in COMPONENTS:
        deployment = rendered.get("Deployment", name(component))
        service = rendered.get("Service", name(component))
        account = rendered.get("ServiceAccount", name(component))
        budget = rendered.get("PodDisruptionBudget", name(component))
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pod_spec(deployment)["serviceAccountName"] == account["metadata"]["name"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert account["automountServiceAccountToken"] is False


def test_every_container_runs_non_root_read_only_without_capabilities(rendered: Rendered) -> None:
    workloads = rendered.of_kind("Deployment") + rendered.of_kind("Job")
    assert len(workloads) == 4
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["runAsUser"] != 0
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "add" not in security["capabilities"]
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert "memory" in resources["limits"]


def test_services_are_probed_on_healthz_and_readyz(rendered: Rendered) -> None:
    for component in COMPONENTS:
        (container,) = pod_spec(rendered.get("Deployment", name(component)))["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        (port,) = container["ports"]
        assert port["name"] == container["readinessProbe"]["httpGet"]["port"] == "http"
        config = rendered.get("ConfigMap", name(component))["data"]
        assert port["containerPort"] == int(config[f"{component.upper()}_PORT"])


def test_termination_grace_outlasts_the_services_drain(rendered: Rendered) -> None:
    for component in COMPONENTS:
        spec = pod_spec(rendered.get("Deployment", name(component)))
        drain = float(rendered.get("ConfigMap", name(component))["data"]["SHUTDOWN_GRACE_S"])
        (container,) = spec["containers"]
        pre_stop = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert spec["terminationGracePeriodSeconds"] > drain + pre_stop


def test_migration_runs_as_a_hook_before_install_and_upgrade(rendered: Rendered) -> None:
    (job,) = rendered.of_kind("Job")
    assert hooks(job) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["image"].split(":")[0].endswith("order-engine-migrate")
    assert "command" not in container  # the image's ENTRYPOINT: orders-migrate
    assert spec["restartPolicy"] == "Never"
    # At pre-install the release's own objects do not exist yet: whatever the Job uses must be a hook
    # created before it (a lower weight), never a ConfigMap or Secret of the release.
    account = rendered.get("ServiceAccount", spec["serviceAccountName"])
    assert hooks(account) == hooks(job)
    assert hook_weight(account) < hook_weight(job)
    assert "envFrom" not in container
    (secret_name,) = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    secret = rendered.get("Secret", secret_name)
    assert hooks(secret) == hooks(job)
    assert hook_weight(secret) < hook_weight(job)
    assert {e["name"] for e in container["env"]} >= {"DATABASE_URL", "LOG_LEVEL", "LOG_FORMAT"}


def test_an_existing_secret_replaces_the_charts_own() -> None:
    rendered = render("--set", "secret.existingSecret=orders-urls-from-vault", "-f", str(ALL_FEATURES))
    assert rendered.of_kind("Secret") == []
    referenced = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for workload in rendered.of_kind("Deployment") + rendered.of_kind("Job")
        for e in pod_spec(workload)["containers"][0]["env"]
        if "valueFrom" in e
    }
    assert referenced == {"orders-urls-from-vault"}
    (auth,) = rendered.of_kind("TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"][0]["name"] == "orders-urls-from-vault"


def test_urls_come_from_the_secret_never_a_configmap(rendered: Rendered) -> None:
    for configmap in rendered.of_kind("ConfigMap"):
        assert not {"DATABASE_URL", "AMQP_URL"} & configmap.get("data", {}).keys()
    for component in COMPONENTS:
        (container,) = pod_spec(rendered.get("Deployment", name(component)))["containers"]
        from_secret = {
            e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
        }
        assert from_secret["DATABASE_URL"]["key"] == "DATABASE_URL"
        assert from_secret["AMQP_URL"]["key"] == "AMQP_URL"


def test_ingress_sends_the_websocket_to_the_notifier_and_the_rest_to_the_api(rendered_all: Rendered) -> None:
    routes: dict[str, tuple[str, Manifest]] = {}
    for ingress in rendered_all.of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] == "orders.example.com"
            for path in rule["http"]["paths"]:
                routes[path["path"]] = (path["backend"]["service"]["name"], ingress)
                assert path["backend"]["service"]["port"] == {"name": "http"}
    assert routes.keys() == {"/api", "/api/orders/ws"}
    ws_service, ws_ingress = routes["/api/orders/ws"]
    api_service, api_ingress = routes["/api"]
    assert ws_service == name("notifier")
    assert api_service == name("api")
    annotations = ws_ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert "nginx.ingress.kubernetes.io/proxy-read-timeout" not in api_ingress["metadata"]["annotations"]
    # The backends' port name exists on the Services the routes name.
    for service in (ws_service, api_service):
        assert rendered_all.get("Service", service)["spec"]["ports"][0]["name"] == "http"


def test_api_and_notifier_autoscale_on_cpu_and_workers_on_queue_depth(rendered_all: Rendered) -> None:
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in rendered_all.of_kind("HorizontalPodAutoscaler")}
    assert hpas.keys() == {name("api"), name("notifier")}
    (scaled,) = rendered_all.of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == name("worker")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == "orders.execute"
    assert trigger["metadata"]["mode"] == "QueueLength"
    (auth,) = rendered_all.of_kind("TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "order-engine-urls", "key": "AMQP_URL"}
    ]
    # Whatever scales a Deployment owns its replica count; the chart must not fight it on upgrade.
    for component in COMPONENTS:
        assert "replicas" not in rendered_all.get("Deployment", name(component))["spec"]


def test_without_keda_the_worker_has_a_fixed_replica_count(rendered_default: Rendered) -> None:
    assert rendered_default.of_kind("ScaledObject") == []
    assert rendered_default.get("Deployment", name("worker"))["spec"]["replicas"] == 2


def test_service_monitors_scrape_each_service_on_its_metrics_port(rendered_all: Rendered) -> None:
    monitors = rendered_all.of_kind("ServiceMonitor")
    assert len(monitors) == len(COMPONENTS)
    for component in COMPONENTS:
        monitor = rendered_all.get("ServiceMonitor", name(component))
        service = rendered_all.get("Service", name(component))
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_prometheus_rule_carries_the_alerts_file(rendered_all: Rendered) -> None:
    (rule,) = rendered_all.of_kind("PrometheusRule")
    assert rule["spec"] == yaml_load(ALERTS.read_text())


def test_dashboard_configmap_carries_the_dashboard_for_the_sidecar(rendered_all: Rendered) -> None:
    configmap = rendered_all.get("ConfigMap", "order-engine-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"]["grafana_folder"] == "Trading"
    assert json.loads(configmap["data"]["order-engine.json"]) == json.loads(DASHBOARD.read_text())


def test_optional_features_are_off_by_default(rendered_default: Rendered) -> None:
    kinds = {o["kind"] for o in rendered_default.objects}
    assert not kinds & (CRD_KINDS | {"Ingress"})
    assert [c["metadata"]["name"] for c in rendered_default.of_kind("ConfigMap")] == [
        name(c) for c in COMPONENTS
    ]


def test_network_policies_select_every_pod_and_open_only_its_port(rendered: Rendered) -> None:
    policies = rendered.of_kind("NetworkPolicy")
    for workload in rendered.of_kind("Deployment") + rendered.of_kind("Job"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        (policy,) = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        ports = [p for rule in policy["spec"]["ingress"] for p in rule["ports"]]
        assert ports == ([] if workload["kind"] == "Job" else [{"port": "http", "protocol": "TCP"}])
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
        assert {53, 5432} <= egress_ports
