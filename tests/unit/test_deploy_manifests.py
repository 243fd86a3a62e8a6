"""The Kubernetes manifests in deploy/kubernetes, checked offline.

No cluster, kustomize or kubectl is needed: the test follows the kustomizations' file references itself,
validates every built-in object against the Kubernetes OpenAPI schemas (kubernetes-validate), and
evaluates the NetworkPolicies the way the API defines them, so that the rules below are about what
traffic is allowed, not about how the YAML happens to be written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from crmkit.config import DEFAULT_GRPC_PORTS, SERVICE_NAMES, Settings
from suite.targets import TARGETS

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
BASE = MANIFESTS / "base"
PRODUCTION = MANIFESTS / "overlays" / "production"

# The oldest Kubernetes the manifests are for (the preStop `sleep` action is on by default from 1.30) and
# the newest one kubernetes-validate has schemas for.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
CUSTOM_RESOURCES = {
    "Cluster": "postgresql.cnpg.io/v1",
    "RabbitmqCluster": "rabbitmq.com/v1beta1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
}
# What this test knows how to follow; a kustomization using more must teach the test first.
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "components", "configMapGenerator", "images"}

APP_LABEL = "app.kubernetes.io/part-of"
NAME_LABEL = "app.kubernetes.io/name"
IMAGE = "crm-suite"
CONFIG_MAP = "crm-config"
SECRET = "crm-secrets"
SECRET_SETTINGS = ("CRM_INTERNAL_TOKEN_SECRET", "CRM_DATABASE_URL", "CRM_AMQP_URL", "CRM_REDIS_URL")
METRICS_PORT = 9464
GATEWAY_PORT = 8080
DATABASES = ("gateway", *SERVICE_NAMES)


# -- reading the kustomizations ------------------------------------------------------------------------


def kustomization(directory: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return spec


def kustomization_dirs() -> list[Path]:
    return sorted(path.parent for path in MANIFESTS.rglob("kustomization.yaml"))


@dataclass
class Build:
    """What `kustomize build` would emit, as far as file references and ConfigMap generators go."""

    files: list[Path] = field(default_factory=list)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def objects(self) -> list[dict[str, Any]]:
        found = [doc for path in self.files for doc in yaml.safe_load_all(path.read_text()) if doc]
        generated = [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
            for name, data in self.config_maps.items()
        ]
        return found + generated


def accumulate(directory: Path, build: Build) -> Build:
    # kustomize's order: the resources, then this kustomization's generators, then its components.
    spec = kustomization(directory)
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            accumulate(path, build)
        else:
            build.files.append(path)
    for generator in spec.get("configMapGenerator", []):
        literals = dict(literal.split("=", 1) for literal in generator["literals"])
        if generator.get("behavior") == "merge":
            build.config_maps[generator["name"]].update(literals)
        else:
            assert generator["name"] not in build.config_maps, f"{directory}: {generator['name']} generated twice"
            build.config_maps[generator["name"]] = literals
    for entry in spec.get("components", []):
        accumulate((directory / entry).resolve(), build)
    return build


@functools.cache
def built(directory: Path) -> tuple[dict[str, Any], ...]:
    return tuple(accumulate(directory, Build()).objects())


def of_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def object_id(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def is_builtin(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


PRODUCTION_OBJECTS = built(PRODUCTION)
WORKLOADS = [o for o in PRODUCTION_OBJECTS if o["kind"] in ("Deployment", "Job")]
APP_WORKLOADS = [o for o in WORKLOADS if o["spec"]["template"]["metadata"]["labels"].get(APP_LABEL) == "crm"]
APP_DEPLOYMENTS = [o for o in APP_WORKLOADS if o["kind"] == "Deployment"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


def container_port(workload: dict[str, Any], name: str) -> int:
    (port,) = [p["containerPort"] for c in containers(workload) for p in c.get("ports", []) if p["name"] == name]
    return int(port)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


# -- the kustomizations themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda d: str(d.relative_to(MANIFESTS)))
def test_every_kustomization_entry_points_at_a_file_or_directory_that_exists(directory: Path) -> None:
    spec = kustomization(directory)
    assert set(spec) <= KUSTOMIZATION_FIELDS, f"this test does not follow {set(spec) - KUSTOMIZATION_FIELDS}"
    expected_kind = "Component" if directory.parent.name == "components" else "Kustomization"
    assert spec["kind"] == expected_kind
    assert spec.get("resources") or spec.get("components")
    for entry in spec.get("resources", []):
        path = directory / entry
        assert "://" not in entry and path.exists(), f"{directory}: resource {entry} does not exist"
        if path.is_dir():
            assert kustomization(path)["kind"] == "Kustomization"
    for entry in spec.get("components", []):
        path = directory / entry
        assert path.is_dir() and kustomization(path)["kind"] == "Component", f"{directory}: bad component {entry}"
    for generator in spec.get("configMapGenerator", []):
        assert set(generator) <= {"name", "behavior", "literals", "options"}
        assert all("=" in literal for literal in generator["literals"])


def test_every_manifest_file_is_listed_and_production_uses_every_component() -> None:
    listed = {
        (directory / entry).resolve()
        for directory in kustomization_dirs()
        for entry in kustomization(directory)["resources"]
    }
    on_disk = {path.resolve() for path in MANIFESTS.rglob("*.yaml") if path.name != "kustomization.yaml"}
    assert on_disk == listed - set(kustomization_dirs()), "a manifest no kustomization lists is never applied"
    components = {path.parent for path in MANIFESTS.glob("components/*/kustomization.yaml")}
    assert {(PRODUCTION / entry).resolve() for entry in kustomization(PRODUCTION)["components"]} == components
    assert {object_id(o) for o in built(BASE)} < {object_id(o) for o in PRODUCTION_OBJECTS}


def test_every_yaml_document_is_a_kubernetes_object() -> None:
    for path in MANIFESTS.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert isinstance(doc, dict) and {"apiVersion", "kind"} <= set(doc), f"{path}: not an object"


# -- schemas -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("obj", [o for o in PRODUCTION_OBJECTS if is_builtin(o)], ids=object_id)
def test_builtin_objects_match_the_kubernetes_schema(obj: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("obj", [o for o in PRODUCTION_OBJECTS if not is_builtin(o)], ids=object_id)
def test_custom_resources_have_the_required_fields(obj: dict[str, Any]) -> None:
    assert CUSTOM_RESOURCES.get(obj["kind"]) == obj["apiVersion"], f"unexpected custom resource {object_id(obj)}"
    assert obj["metadata"]["name"]
    assert isinstance(obj["spec"], dict) and obj["spec"]


def test_the_custom_resources_are_the_three_operators_ones() -> None:
    assert sorted(o["kind"] for o in PRODUCTION_OBJECTS if not is_builtin(o)) == sorted(CUSTOM_RESOURCES)
    assert all(is_builtin(o) for o in built(BASE)), "the base must apply to a cluster without any operator"
    cluster = of_kind(PRODUCTION_OBJECTS, "Cluster")[0]["spec"]
    assert cluster["instances"] >= 1 and cluster["storage"]["size"]
    rabbitmq = of_kind(PRODUCTION_OBJECTS, "RabbitmqCluster")[0]["spec"]
    assert rabbitmq["replicas"] % 2 == 1, "quorum queues want an odd number of nodes"


# -- pods ----------------------------------------------------------------------------------------------


def quantity(value: str | int) -> float:
    text = str(value)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("m", 1e-3), ("k", 1e3), ("M", 1e6)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("workload", WORKLOADS, ids=object_id)
def test_pods_run_unprivileged_on_a_read_only_root(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    pod_security = pod.get("securityContext", {})
    for container in containers(workload):
        security = container["securityContext"]
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True
        assert security.get("runAsUser", pod_security.get("runAsUser", 1)) != 0
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault"
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert not security["capabilities"].get("add")


@pytest.mark.parametrize("workload", WORKLOADS, ids=object_id)
def test_containers_request_and_limit_cpu_and_memory(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request, limit = resources["requests"][resource], resources["limits"][resource]
            assert 0 < quantity(request) <= quantity(limit), f"{container['name']}: {resource} {request} > {limit}"


@pytest.mark.parametrize("workload", APP_WORKLOADS, ids=object_id)
def test_the_suites_containers_write_only_to_a_tmp_empty_dir(workload: dict[str, Any]) -> None:
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    for container in containers(workload):
        assert container["image"] == IMAGE
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert list(mounts) == ["/tmp"]
        assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("workload", APP_WORKLOADS, ids=object_id)
def test_settings_come_from_the_config_map_and_the_secret_by_reference(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        assert container["envFrom"] == [{"configMapRef": {"name": CONFIG_MAP}}, {"secretRef": {"name": SECRET}}]
        assert not {e["name"] for e in container.get("env", [])} & set(SECRET_SETTINGS)


def test_no_secret_value_is_in_the_manifests() -> None:
    assert not of_kind(PRODUCTION_OBJECTS, "Secret")
    for config_map in of_kind(PRODUCTION_OBJECTS, "ConfigMap"):
        assert not set(config_map["data"]) & set(SECRET_SETTINGS)


@pytest.mark.parametrize("deployment", [o for o in WORKLOADS if o["kind"] == "Deployment"], ids=object_id)
def test_deployments_have_liveness_and_readiness_probes(deployment: dict[str, Any]) -> None:
    for container in containers(deployment):
        assert container["livenessProbe"] and container["readinessProbe"]


def test_every_target_but_all_has_its_deployment() -> None:
    assert {d["metadata"]["name"] for d in APP_DEPLOYMENTS} == set(TARGETS) - {"all"}
    for deployment in APP_DEPLOYMENTS:
        (container,) = containers(deployment)
        assert container["args"] == ["run", "--target", deployment["metadata"]["name"]]
        assert selects(deployment["spec"]["selector"], pod_labels(deployment))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_services_serve_grpc_on_their_port_and_are_probed_with_grpc_health(name: str) -> None:
    deployment = named(PRODUCTION_OBJECTS, "Deployment", name)
    port = DEFAULT_GRPC_PORTS[name]
    assert container_port(deployment, "grpc") == port
    (container,) = containers(deployment)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == port
    service_ports = {p["name"]: p for p in named(PRODUCTION_OBJECTS, "Service", name)["spec"]["ports"]}
    assert service_ports["grpc"]["port"] == port and service_ports["grpc"]["targetPort"] == "grpc"


def test_the_gateway_is_probed_over_http() -> None:
    gateway = named(PRODUCTION_OBJECTS, "Deployment", "gateway")
    assert container_port(gateway, "http") == GATEWAY_PORT
    (container,) = containers(gateway)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


@pytest.mark.parametrize("deployment", APP_DEPLOYMENTS, ids=object_id)
def test_every_process_exposes_metrics_through_a_service_the_service_monitor_selects(
    deployment: dict[str, Any],
) -> None:
    assert container_port(deployment, "metrics") == METRICS_PORT
    services = [
        s
        for s in of_kind(PRODUCTION_OBJECTS, "Service")
        if selects({"matchLabels": s["spec"]["selector"]}, pod_labels(deployment))
    ]
    assert len(services) == 1, f"{object_id(deployment)}: expected one Service, found {len(services)}"
    (service,) = services
    assert {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"} in service["spec"]["ports"]
    (monitor,) = of_kind(PRODUCTION_OBJECTS, "ServiceMonitor")
    assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_the_config_map_is_what_crmkit_needs_to_run_distributed() -> None:
    config = named(PRODUCTION_OBJECTS, "ConfigMap", CONFIG_MAP)["data"]
    secret = {name: "x" * 40 for name in SECRET_SETTINGS}
    settings = Settings.from_env(config | secret)
    assert settings.bus == "rabbitmq"
    assert all(settings.metrics_port_for(target) == METRICS_PORT for target in TARGETS)
    assert settings.gateway_addr == f"0.0.0.0:{GATEWAY_PORT}" and settings.gateway_workers == 1
    for name in SERVICE_NAMES:
        address = settings.grpc_addr(name)
        # dns:/// through a headless Service: the client resolves every pod and balances calls over them.
        assert address.startswith("dns:///"), f"{name}: dial {address!r} as dns:///<service>:<port>"
        host, port = address.removeprefix("dns:///").rsplit(":", 1)
        service = named(PRODUCTION_OBJECTS, "Service", host)
        assert service["spec"].get("clusterIP") == "None", f"{host}: gRPC Services are headless"
        assert int(port) in [p["port"] for p in service["spec"]["ports"]]
        assert settings.grpc_bind(name) == f"0.0.0.0:{DEFAULT_GRPC_PORTS[name]}"


def test_traces_go_to_the_collector_in_production_and_nowhere_in_the_base() -> None:
    assert named(built(BASE), "ConfigMap", CONFIG_MAP)["data"]["OTEL_TRACES_EXPORTER"] == "none"
    config = named(PRODUCTION_OBJECTS, "ConfigMap", CONFIG_MAP)["data"]
    assert config["OTEL_TRACES_EXPORTER"] == "otlp"
    host, port = config["OTEL_EXPORTER_OTLP_ENDPOINT"].removeprefix("http://").split(":")
    assert int(port) in [p["port"] for p in named(PRODUCTION_OBJECTS, "Service", host)["spec"]["ports"]]


@pytest.mark.parametrize("deployment", APP_DEPLOYMENTS, ids=object_id)
def test_every_deployment_has_a_disruption_budget_and_all_but_the_relay_an_autoscaler(
    deployment: dict[str, Any],
) -> None:
    name = deployment["metadata"]["name"]
    budgets = [
        b
        for b in of_kind(PRODUCTION_OBJECTS, "PodDisruptionBudget")
        if selects(b["spec"]["selector"], pod_labels(deployment))
    ]
    assert len(budgets) == 1, f"{name}: expected one PodDisruptionBudget, found {len(budgets)}"
    autoscalers = [
        a
        for a in of_kind(PRODUCTION_OBJECTS, "HorizontalPodAutoscaler")
        if a["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    ]
    if name == "relay":
        assert not autoscalers and deployment["spec"]["replicas"] >= 2
        return
    assert len(autoscalers) == 1, f"{name}: expected one HorizontalPodAutoscaler, found {len(autoscalers)}"
    assert autoscalers[0]["spec"]["minReplicas"] >= 2, "one replica and a budget of one blocks every drain"
    assert "replicas" not in deployment["spec"], "the autoscaler owns replicas; a fixed count fights it"


def test_a_migration_job_per_database() -> None:
    jobs = [o for o in APP_WORKLOADS if o["kind"] == "Job"]
    migrated = sorted(containers(job)[0]["args"][2] for job in jobs)
    assert sorted(DATABASES) == migrated
    for job in jobs:
        (container,) = containers(job)
        assert container["args"][:2] == ["migrate", "--only"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


# -- network policies ----------------------------------------------------------------------------------

HERE = {"kubernetes.io/metadata.name": "the-suites-namespace"}
ELSEWHERE = {"kubernetes.io/metadata.name": "elsewhere"}
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
POLICIES = of_kind(PRODUCTION_OBJECTS, "NetworkPolicy")


@dataclass(frozen=True)
class Peer:
    """One end of a connection: a pod (its labels and its namespace's labels), or, with no pod, an
    address outside the cluster."""

    pod: dict[str, str] | None = None
    namespace: dict[str, str] = field(default_factory=lambda: HERE)


OUTSIDE = Peer()


def peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    # An ipBlock is taken to mean addresses outside the cluster (for pod IPs the API leaves it undefined).
    if "ipBlock" in rule_peer:
        return peer.pod is None
    if peer.pod is None:
        return False
    if "namespaceSelector" in rule_peer:
        in_namespace = selects(rule_peer["namespaceSelector"], peer.namespace)
    else:
        in_namespace = peer.namespace == HERE
    return in_namespace and selects(rule_peer.get("podSelector", {}), peer.pod)


def port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    if not rule.get("ports"):
        return True
    for allowed in rule["ports"]:
        low = allowed.get("port")
        if allowed.get("protocol", "TCP") != protocol:
            continue
        assert not isinstance(low, str), "named ports: this test compares numbers"
        if low is None or low <= port <= allowed.get("endPort", low):
            return True
    return False


def policy_types(policy: dict[str, Any]) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


def rules(pod: dict[str, str], direction: str) -> Iterator[dict[str, Any]]:
    for policy in POLICIES:
        if direction in policy_types(policy) and selects(policy["spec"]["podSelector"], pod):
            yield from policy["spec"].get(direction.lower(), [])


def admits(pod: dict[str, str], source: Peer, port: int, protocol: str = "TCP") -> bool:
    return any(
        port_matches(rule, port, protocol)
        and (not rule.get("from") or any(peer_matches(p, source) for p in rule["from"]))
        for rule in rules(pod, "Ingress")
    )


def may_send(pod: dict[str, str], destination: Peer, port: int, protocol: str = "TCP") -> bool:
    return any(
        port_matches(rule, port, protocol)
        and (not rule.get("to") or any(peer_matches(p, destination) for p in rule["to"]))
        for rule in rules(pod, "Egress")
    )


def workload_name(workload: dict[str, Any]) -> str:
    return str(workload["metadata"]["name"])


def test_everything_is_denied_by_default() -> None:
    deny_all = [
        p
        for p in POLICIES
        if p["spec"]["podSelector"] == {}
        and set(policy_types(p)) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny_all, "no default-deny NetworkPolicy"


def test_only_the_gateway_admits_traffic_from_outside_the_namespace() -> None:
    scrape = {
        "from": [{"namespaceSelector": {"matchLabels": MONITORING}}],
        "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
    }
    opened = set()
    for workload in APP_WORKLOADS:
        for rule in rules(pod_labels(workload), "Ingress"):
            outside = not rule.get("from") or any("ipBlock" in p or "namespaceSelector" in p for p in rule["from"])
            if outside and rule != scrape:
                opened |= {
                    (workload_name(workload), p.get("port"), p.get("endPort")) for p in rule.get("ports") or [{}]
                }
    assert opened == {("gateway", GATEWAY_PORT, None)}
    gateway = pod_labels(named(PRODUCTION_OBJECTS, "Deployment", "gateway"))
    assert admits(gateway, OUTSIDE, GATEWAY_PORT) and admits(gateway, Peer({"any": "pod"}, ELSEWHERE), GATEWAY_PORT)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_services_accept_grpc_only_from_the_gateway(name: str) -> None:
    service = pod_labels(named(PRODUCTION_OBJECTS, "Deployment", name))
    port = DEFAULT_GRPC_PORTS[name]
    callers = {workload_name(w) for w in APP_WORKLOADS if admits(service, Peer(pod_labels(w)), port)}
    assert callers == {"gateway"}
    gateway = pod_labels(named(PRODUCTION_OBJECTS, "Deployment", "gateway"))
    assert not admits(service, Peer(gateway, ELSEWHERE), port), "a pod named gateway in another namespace got in"
    assert not admits(service, OUTSIDE, port)
    assert may_send(gateway, Peer(service), port), "the gateway may not call the service"


@pytest.mark.parametrize("workload", APP_WORKLOADS, ids=object_id)
def test_every_pod_reaches_postgres_rabbitmq_and_dns_and_admits_only_what_it_serves(workload: dict[str, Any]) -> None:
    pod = pod_labels(workload)
    for port, protocol in ((5432, "TCP"), (5672, "TCP"), (53, "UDP"), (53, "TCP")):
        assert may_send(pod, OUTSIDE, port, protocol), f"no egress to {port}/{protocol}"
    assert admits(pod, Peer({"app": "prometheus"}, MONITORING), METRICS_PORT)
    served = {METRICS_PORT, *(p["containerPort"] for c in containers(workload) for p in c.get("ports", []))}
    for rule in rules(pod, "Ingress"):
        assert rule.get("ports"), f"{workload_name(workload)} admits every port"
        for allowed in rule["ports"]:
            opened = set(range(allowed["port"], allowed.get("endPort", allowed["port"]) + 1))
            assert opened & served, f"{workload_name(workload)} admits {allowed} where nothing listens"


def test_operator_workloads_and_the_collector_admit_the_suite() -> None:
    cluster = of_kind(PRODUCTION_OBJECTS, "Cluster")[0]["metadata"]["name"]
    rabbitmq = of_kind(PRODUCTION_OBJECTS, "RabbitmqCluster")[0]["metadata"]["name"]
    collector = pod_labels(named(PRODUCTION_OBJECTS, "Deployment", "otel-collector"))
    # the labels each operator puts on its pods
    dependencies = [({"cnpg.io/cluster": cluster}, 5432), ({NAME_LABEL: rabbitmq}, 5672), (collector, 4317)]
    for workload in APP_WORKLOADS:
        pod = pod_labels(workload)
        for dependency, port in dependencies:
            assert admits(dependency, Peer(pod), port), f"{dependency} refuses {workload_name(workload)} on {port}"
            assert may_send(pod, Peer(dependency), port), f"{workload_name(workload)} may not reach {dependency}"
