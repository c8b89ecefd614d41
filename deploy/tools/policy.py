"""Checks on rendered manifests that a schema cannot express; each returns a list of violations.

Used by `deploy/tools/check.py` on every overlay, and on `deploy/tests/policy/` fixtures to prove
each check refuses what it should.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from igny8.contracts import TOPICS
from igny8.messaging.topics import dlq_configs, topic_configs

Doc = dict[str, Any]
SERVICES = ("gateway", "billing", "automation", "integration", "publishing")
SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL)", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:(?!\$\()[^@\s]+@")
"""`scheme://user:password@…` — allowed only as `$(VAR)`, composed by Kubernetes from a Secret."""


def name_of(doc: Doc) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_spec(doc: Doc) -> Doc | None:
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc.get("spec", {}).get("template", {}).get("spec")
    if doc.get("kind") == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if doc.get("kind") == "Pod":
        return doc.get("spec")
    return None


def secrets_not_inlined(docs: Iterable[Doc]) -> list[str]:
    problems = []
    for doc in docs:
        where = name_of(doc)
        if doc.get("kind") == "Secret":
            # Secrets are created by the operator out of band (deploy/README.md), never committed.
            problems.append(f"{where}: a Secret object in the manifests (values would be inlined)")
        if doc.get("kind") == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if SECRET_NAME.search(key):
                    problems.append(f"{where}: ConfigMap key {key} looks like a secret")
                if URL_WITH_PASSWORD.search(str(value)):
                    problems.append(f"{where}: ConfigMap key {key} holds a URL with a password")
        spec = pod_spec(doc)
        for container in (spec or {}).get("containers", []) + (spec or {}).get(
            "initContainers", []
        ):
            for env in container.get("env", []):
                if "value" not in env:
                    continue
                if SECRET_NAME.search(env["name"]):
                    problems.append(f"{where}: env {env['name']} is inlined, use a secretKeyRef")
                if URL_WITH_PASSWORD.search(str(env["value"])):
                    problems.append(f"{where}: env {env['name']} holds a URL with a password")
    return problems


def containers_hardened(docs: Iterable[Doc]) -> list[str]:
    problems = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        where = name_of(doc)
        pod_context = spec.get("securityContext", {})
        for container in spec.get("containers", []):
            context = {**pod_context, **container.get("securityContext", {})}
            wanted = {
                "runAsNonRoot": True,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
            }
            for key, value in wanted.items():
                if context.get(key) is not value:
                    problems.append(f"{where}: securityContext.{key} must be {value}")
            if "ALL" not in context.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities must drop ALL")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    problems.append(f"{where}: resources.{part} needs cpu and memory")
    return problems


def only_gateway_exposed(docs: Iterable[Doc]) -> list[str]:
    problems = []
    for doc in docs:
        where = name_of(doc)
        if doc.get("kind") == "Service" and doc.get("spec", {}).get("type") in (
            "LoadBalancer",
            "NodePort",
        ):
            problems.append(f"{where}: only the gateway is reachable from outside, via the Ingress")
        if doc.get("kind") == "Ingress":
            for rule in doc["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    backend = path["backend"].get("service", {}).get("name")
                    if backend != "gateway-api":
                        problems.append(f"{where}: routes to {backend}, only gateway-api may be")
    return problems


def ingress_from_outside(docs: Iterable[Doc]) -> list[str]:
    """Other namespaces reach a pod only as Prometheus (`monitoring`), the PostgreSQL operator
    (`cnpg-system`, its cluster only) or, for the gateway alone, the ingress controller."""
    problems = []
    for doc in docs:
        if doc.get("kind") != "NetworkPolicy":
            continue
        selected = doc["spec"].get("podSelector", {}).get("matchLabels", {})
        allowed = {"monitoring"}
        if selected.get("app.kubernetes.io/name") == "gateway":
            continue
        if "cnpg.io/cluster" in selected:
            allowed.add("cnpg-system")
        for rule in doc["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" not in peer and "ipBlock" not in peer:
                    continue
                namespace = (
                    peer.get("namespaceSelector", {})
                    .get("matchLabels", {})
                    .get("kubernetes.io/metadata.name")
                )
                if namespace not in allowed:
                    problems.append(
                        f"{name_of(doc)}: admits traffic from outside the namespace "
                        f"({namespace or peer}); only the gateway is reachable from outside"
                    )
    return problems


def _claim_at(spec: Doc, path: str) -> str | None:
    """The PersistentVolumeClaim mounted where `path` lies in the pod's first container."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for mount in spec.get("containers", [{}])[0].get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/")
        if path == folder or path.startswith(folder + "/"):
            claim = volumes.get(mount["name"], {}).get("persistentVolumeClaim") or {}
            return claim.get("claimName")
    return None


def shared_state_shared(docs: list[Doc]) -> list[str]:
    """Nothing one pod writes that another needs stays on a pod: a folder setting
    (`<SERVICE>_…_ROOT`) lies on a ReadWriteMany claim that every api and worker pod of the service
    mounts (an emptyDir or the image's own disk would keep it on one pod), and automation's images
    go to object storage."""
    problems = []
    claims = _by_kind(docs, "PersistentVolumeClaim")
    deployments = _by_kind(docs, "Deployment")
    for name, config in _by_kind(docs, "ConfigMap").items():
        service = name.removesuffix("-config")
        if service not in SERVICES:
            continue
        data = config.get("data") or {}
        if service == "automation" and data.get("AUTOMATION_IMAGE_STORAGE") != "s3":
            problems.append(f"{name}: AUTOMATION_IMAGE_STORAGE must be s3 (images shared by pods)")
        for key, path in data.items():
            if not key.endswith("_ROOT"):
                continue
            for role in ("api", "worker"):
                deployment = deployments.get(f"{service}-{role}")
                if deployment is None:
                    continue
                claim = _claim_at(deployment["spec"]["template"]["spec"], str(path))
                modes = claims.get(claim or "", {}).get("spec", {}).get("accessModes", [])
                if "ReadWriteMany" not in modes:
                    problems.append(
                        f"{service}-{role}: {key}={path} is not on a ReadWriteMany volume "
                        "(what one pod writes there, the others would not see)"
                    )
    return problems


def per_object(docs: list[Doc]) -> list[str]:
    return (
        secrets_not_inlined(docs)
        + containers_hardened(docs)
        + only_gateway_exposed(docs)
        + ingress_from_outside(docs)
        + shared_state_shared(docs)
    )


def _by_kind(docs: Iterable[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == kind}


def topics_complete(docs: list[Doc]) -> list[str]:
    """Every registry topic and its `.dlq` twin has a KafkaTopic with the registry's settings."""
    problems = []
    topics = {
        d["spec"].get("topicName", d["metadata"]["name"]): d
        for d in _by_kind(docs, "KafkaTopic").values()
    }
    brokers = sum(
        d["spec"]["replicas"]
        for d in _by_kind(docs, "KafkaNodePool").values()
        if "broker" in d["spec"].get("roles", [])
    )
    wanted = {}
    for spec in TOPICS:
        wanted[spec.name] = (spec.partitions, topic_configs(spec))
        wanted[spec.dlq] = (spec.partitions, dlq_configs())
    for name, (partitions, configs) in wanted.items():
        topic = topics.get(name)
        if topic is None:
            problems.append(f"topic {name}: no KafkaTopic")
            continue
        if topic["spec"].get("partitions") != partitions:
            problems.append(
                f"topic {name}: {topic['spec'].get('partitions')} partitions, registry says {partitions}"
            )
        for key, value in configs.items():
            if str(topic["spec"].get("config", {}).get(key)) != value:
                problems.append(f"topic {name}: {key} is not {value}")
        replicas = topic["spec"].get("replicas", 1)
        if replicas > brokers:
            problems.append(f"topic {name}: {replicas} replicas on {brokers} brokers")
        min_isr = int(topic["spec"].get("config", {}).get("min.insync.replicas", 1))
        if replicas > 1 and min_isr >= replicas:
            problems.append(f"topic {name}: min.insync.replicas {min_isr} leaves no replica spare")
    for name in topics.keys() - wanted.keys():
        problems.append(f"topic {name}: a KafkaTopic the registry does not know")
    return problems


def services_complete(docs: list[Doc]) -> list[str]:
    """Every service has its api and worker Deployments, its migration Job and its settings."""
    problems = []
    deployments, jobs = _by_kind(docs, "Deployment"), _by_kind(docs, "Job")
    config_maps = _by_kind(docs, "ConfigMap")
    policies = _by_kind(docs, "NetworkPolicy")
    for service in SERVICES:
        for role in ("api", "worker"):
            deployment = deployments.get(f"{service}-{role}")
            if deployment is None:
                problems.append(f"{service}: no {role} Deployment")
                continue
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            if container.get("args") != ["serve", "--role", role]:
                problems.append(f"{service}-{role}: args {container.get('args')}")
            probes = (container.get("readinessProbe"), container.get("livenessProbe"))
            paths = tuple((p or {}).get("httpGet", {}).get("path") for p in probes)
            if paths != ("/readyz", "/healthz"):
                problems.append(f"{service}-{role}: probes {paths}, want /readyz and /healthz")
        job = jobs.get(f"{service}-migrate")
        if job is None or job["spec"]["template"]["spec"]["containers"][0].get("args") != [
            "migrate"
        ]:
            problems.append(f"{service}: no migration Job running `{service} migrate`")
        data = config_maps.get(f"{service}-config", {}).get("data", {})
        if data.get(f"{service.upper()}_MIGRATE_ON_START") != "false":
            problems.append(
                f"{service}: migrations belong to the Job ({service.upper()}_MIGRATE_ON_START)"
            )
        if data.get("IGNY8_CREATE_TOPICS") != "false":
            problems.append(f"{service}: KafkaTopic objects own topics (IGNY8_CREATE_TOPICS=false)")
        if service not in policies:
            problems.append(f"{service}: no NetworkPolicy")
    if "default-deny" not in policies:
        problems.append("no default-deny NetworkPolicy")
    return problems


def overlay(docs: list[Doc]) -> list[str]:
    return per_object(docs) + topics_complete(docs) + services_complete(docs)
