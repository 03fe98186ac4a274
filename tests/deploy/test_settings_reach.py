"""One source of truth for configuration: every field of the services' settings classes, read from the
classes themselves at test time, reaches compose.yaml, the Helm values, the rendered Deployments and
env.example under its environment name, and the values given there are ones the classes accept.

A setting added to a class without reaching all of them fails here, naming it and where it is missing.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from orders_shared.settings import CommonSettings
from tests.deploy.support import CHART, ENV_EXAMPLE, Manifest, Rendered, yaml_load
from tests.deploy.values_schema import COMPONENT_SETTINGS, SECRET_SETTINGS, env_name, own_fields

COMPONENTS = tuple(COMPONENT_SETTINGS)


def expected_env(settings: type[BaseSettings]) -> set[str]:
    """Every environment name a settings class reads."""
    return {env_name(field) for field in settings.model_fields}


def accept(settings: type[BaseSettings], env: dict[str, str], where: str) -> None:
    """The class accepts these values (as the service would at start-up), or the test fails naming them."""
    fields: dict[str, Any] = {
        name: env[env_name(name)] for name in settings.model_fields if env_name(name) in env
    }
    try:
        settings(**fields)
    except ValidationError as error:
        pytest.fail(f"{where}: {settings.__name__} rejects its values:\n{error}")


def assert_reaches(settings: type[BaseSettings], names: set[str], where: str) -> None:
    """Every setting of the class is among the names, or the failure lists the missing ones."""
    missing = sorted(expected_env(settings) - names)
    assert not missing, f"{where} lacks {settings.__name__} settings: {missing}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_setting_reaches_compose(compose_config: dict[str, Any], component: str) -> None:
    settings = COMPONENT_SETTINGS[component]
    env = {k: str(v) for k, v in compose_config["services"][component]["environment"].items()}
    assert_reaches(settings, set(env), f"compose.yaml service {component}")
    accept(settings, env, f"compose.yaml service {component}")


def test_the_compose_migration_gets_the_common_settings(compose_config: dict[str, Any]) -> None:
    env = {k: str(v) for k, v in compose_config["services"]["migrate"]["environment"].items()}
    assert_reaches(CommonSettings, set(env), "compose.yaml service migrate")
    accept(CommonSettings, env, "compose.yaml service migrate")


def test_every_setting_reaches_the_helm_values() -> None:
    values = yaml_load((CHART / "values.yaml").read_text())
    common = {env_name(f) for f in own_fields(CommonSettings)} - {env_name(f) for f in SECRET_SETTINGS}
    assert set(values["config"]) == common, "values.yaml `config` must hold exactly CommonSettings"
    assert set(values["secret"]) - {"existingSecret"} == {env_name(f) for f in SECRET_SETTINGS}
    for component, settings in COMPONENT_SETTINGS.items():
        own = {env_name(f) for f in own_fields(settings)}
        assert set(values[component]["config"]) == own, (
            f"values.yaml `{component}.config` must hold exactly {settings.__name__}'s own settings: "
            f"missing {sorted(own - set(values[component]['config']))}, "
            f"unknown {sorted(set(values[component]['config']) - own)}"
        )


def container_env(rendered: Rendered, deployment: Manifest) -> dict[str, str]:
    """The environment a Deployment's container gets: its ConfigMaps, then its env entries (a Secret
    reference stands for the Secret's value when the chart made the Secret)."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(rendered.get("ConfigMap", source["configMapRef"]["name"])["data"])
    secrets = {s["metadata"]["name"]: s for s in rendered.of_kind("Secret")}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            secret = secrets[ref["name"]]
            env[entry["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_setting_reaches_the_rendered_deployment(rendered: Rendered, component: str) -> None:
    settings = COMPONENT_SETTINGS[component]
    deployment = rendered.get("Deployment", f"order-engine-{component}")
    env = container_env(rendered, deployment)
    assert_reaches(settings, set(env), f"the rendered {component} Deployment")
    accept(settings, env, f"the rendered {component} Deployment")


def env_example() -> dict[str, str]:
    """env.example's assignments (comments and blank lines skipped)."""
    pairs: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"env.example: not an assignment: {line!r}"
            assert key not in pairs, f"env.example sets {key} twice"
            pairs[key] = value
    return pairs


@pytest.mark.parametrize("settings", [CommonSettings, *COMPONENT_SETTINGS.values()], ids=lambda s: s.__name__)
def test_every_setting_reaches_env_example(settings: type[BaseSettings]) -> None:
    env = env_example()
    assert_reaches(settings, set(env), "env.example")
    accept(settings, env, "env.example")


def test_env_example_sets_nothing_the_services_do_not_read() -> None:
    known = set().union(*(expected_env(s) for s in COMPONENT_SETTINGS.values()))
    unknown = sorted(set(env_example()) - known)
    assert not unknown, f"env.example sets what no settings class reads: {unknown}"


def test_env_example_gives_the_settings_defaults() -> None:
    """env.example documents the defaults; a changed default must be changed there too."""
    env = env_example()
    for settings in COMPONENT_SETTINGS.values():
        given: dict[str, Any] = {name: env[env_name(name)] for name in settings.model_fields}
        from_file = settings(**given)
        # model_validate({}): the defaults, validated as a value from the environment would be, and no
        # environment read (model_construct would leave a default such as "200-400" unparsed).
        assert from_file == settings.model_validate({}), f"{settings.__name__}: env.example differs"
