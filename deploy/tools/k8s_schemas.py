"""Build the offline schema cache kubeconform validates against (`.cache/k8s/schemas`, git-ignored).

Everything comes from package registries at pinned versions; nothing downloaded is committed:
- core Kubernetes: the strict schemas bundled in the `kubernetes-validate` PyPI package. They point
  at `/api/_definitions.json#/$defs/…`, which kubeconform cannot resolve (it would then skip the
  resource as "could not find schema"), so each per-kind file is rewritten standalone with the
  definitions it needs inlined;
- CloudNativePG, KEDA and the Prometheus Operator (ServiceMonitor): the CRDs in their Go modules
  (`go mod download`);
- Strimzi `kafka.strimzi.io/v1`: generated from the `io.strimzi:api` classes by `io.strimzi:crd-generator`
  (Maven Central, `deploy/tools/strimzi/pom.xml`), run on Java 21+ (the jars are class version 65);
- CRD → JSON schema with kubeconform's own `scripts/openapi2jsonschema.py` (from its Go module).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "k8s"
SCHEMAS = CACHE / "schemas"
KUBERNETES_VERSION = "1.33.0"
GO_MODULES = {
    "cnpg": ("github.com/cloudnative-pg/cloudnative-pg", "v1.29.0"),
    "keda": ("github.com/kedacore/keda/v2", "v2.21.0"),
    "prometheus": ("github.com/prometheus-operator/prometheus-operator", "v0.85.0"),
    "kubeconform": ("github.com/yannh/kubeconform", "v0.8.0"),
}
CRD_FILES = {
    "cnpg": [
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
        "config/crd/bases/postgresql.cnpg.io_databases.yaml",
        "config/crd/bases/postgresql.cnpg.io_poolers.yaml",
        "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml",
    ],
    "keda": [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ],
    "prometheus": [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
    ],
}
STRIMZI_KINDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafka.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafkanodepool.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafkatopic.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "kafkauser.yaml",
}
STAMP = SCHEMAS / ".complete"
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")
"""Per-kind files point into _definitions.json; definitions point at each other locally."""


def log(message: str) -> None:
    print(f"[k8s-schemas] {message}", flush=True)


def core_schemas() -> int:
    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    definitions: dict[str, Any] = json.loads((source / "_definitions.json").read_text())["$defs"]
    target = SCHEMAS / "core"
    target.mkdir(parents=True, exist_ok=True)

    def rewrite(node: Any, needed: set[str]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                prefix = next(
                    (p for p in REF_PREFIXES if isinstance(value, str) and value.startswith(p)),
                    None,
                )
                if key == "$ref" and prefix is not None:
                    name = value[len(prefix) :]
                    needed.add(name)
                    out[key] = f"#/definitions/{name}"
                else:
                    out[key] = rewrite(value, needed)
            return out
        if isinstance(node, list):
            return [rewrite(item, needed) for item in node]
        return node

    rewritten: dict[str, tuple[Any, set[str]]] = {}

    def definition(name: str) -> tuple[Any, set[str]]:
        if name not in rewritten:
            needed: set[str] = set()
            rewritten[name] = (rewrite(definitions[name], needed), needed)
        return rewritten[name]

    count = 0
    for path in sorted(source.glob("*.json")):
        if path.name in ("_definitions.json", "all.json"):
            continue
        needed: set[str] = set()
        schema = rewrite(json.loads(path.read_text()), needed)
        closure: dict[str, Any] = {}
        pending = list(needed)
        while pending:
            name = pending.pop()
            if name in closure:
                continue
            body, refs = definition(name)
            closure[name] = body
            pending.extend(refs - closure.keys())
        if closure:
            # kubeconform compiles as draft 4, which knows `definitions`, not `$defs`.
            schema["definitions"] = dict(sorted(closure.items()))
        schema.pop("$id", None)
        schema.pop("$schema", None)
        (target / path.name).write_text(json.dumps(schema, separators=(",", ":")))
        count += 1
    return count


def go_module(path: str, version: str) -> Path:
    answer = subprocess.run(
        ["go", "mod", "download", "-json", f"{path}@{version}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=CACHE,
    )
    info = json.loads(answer.stdout)
    if info.get("Error"):
        raise SystemExit(f"go mod download {path}@{version}: {info['Error']}")
    return Path(info["Dir"])


def java21() -> str:
    candidates = [os.environ.get("IGNY8_JAVA21", "")]
    candidates += sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)
    candidates.append(shutil.which("java") or "")
    for java in filter(None, candidates):
        probe = subprocess.run([java, "-version"], capture_output=True, text=True)
        first = (probe.stderr or probe.stdout).splitlines()[0] if probe.returncode == 0 else ""
        digits = first.split('"')[1].split(".")[0] if '"' in first else "0"
        if digits.isdigit() and int(digits) >= 21:
            return java
    raise SystemExit(
        "the Strimzi CRD generator needs Java 21 or newer (class version 65): "
        "`make k8s-tools` installs one, or set IGNY8_JAVA21"
    )


def strimzi_crds() -> list[Path]:
    libs = CACHE / "strimzi" / "libs"
    pom = ROOT / "deploy" / "tools" / "strimzi" / "pom.xml"
    if not list(libs.glob("crd-generator-*.jar")):
        subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "package"], check=True)
    out = CACHE / "strimzi" / "crds"
    out.mkdir(parents=True, exist_ok=True)
    classpath = ":".join(str(p) for p in sorted(libs.glob("*.jar")))
    # The generator wants absolute output paths (it resolves them against its own directory).
    targets = [f"{cls}={(out / name).resolve()}" for cls, name in STRIMZI_KINDS.items()]
    subprocess.run(
        [
            java21(),
            "-cp",
            classpath,
            "io.strimzi.crdgenerator.CrdGenerator",
            "--yaml",
            "--crd-api-version",
            "v1",
            "--api-versions",
            "v1",
            *targets,
        ],
        check=True,
        capture_output=True,
    )
    return [out / name for name in STRIMZI_KINDS.values()]


def crd_schemas(crds: list[Path], converter: Path) -> None:
    target = SCHEMAS / "crd"
    target.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FILENAME_FORMAT": "{fullgroup}-{kind}_{version}",
        # A misspelled top-level field (`spce:`) must fail too, not only nested ones.
        "DENY_ROOT_ADDITIONAL_PROPERTIES": "1",
    }
    subprocess.run(
        [sys.executable, str(converter), *map(str, crds)],
        check=True,
        cwd=target,
        env=env,
        capture_output=True,
    )


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    if SCHEMAS.exists():
        shutil.rmtree(SCHEMAS)
    log(f"core schemas of Kubernetes {KUBERNETES_VERSION} from kubernetes-validate")
    log(f"  {core_schemas()} kinds inlined")
    modules = {key: go_module(*spec) for key, spec in GO_MODULES.items()}
    crds = [modules[key] / rel for key, files in CRD_FILES.items() for rel in files]
    log("Strimzi CRDs from io.strimzi:crd-generator")
    crds += strimzi_crds()
    converter = modules["kubeconform"] / "scripts" / "openapi2jsonschema.py"
    crd_schemas(crds, converter)
    log(f"  {len(list((SCHEMAS / 'crd').glob('*.json')))} CRD schemas")
    STAMP.write_text(
        json.dumps(
            {
                "kubernetes": KUBERNETES_VERSION,
                **{key: f"{path}@{version}" for key, (path, version) in GO_MODULES.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
