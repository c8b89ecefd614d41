"""`make lint`'s deployment checks, offline (the schema cache is built first by `make k8s-schemas`).

1. `deploy/` matches what `generate.py` makes from the code (topics, consumer groups);
2. every overlay renders (`kubectl kustomize`) and every resource in it validates with kubeconform
   in strict mode — a resource without a schema fails instead of being skipped;
3. the negative fixtures in `deploy/tests/invalid/` each fail validation for the stated reason;
4. policy (`policy.py`) holds on every overlay, and each fixture in `deploy/tests/policy/` is refused;
5. hadolint passes on the Dockerfile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
import policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CACHE = ROOT / ".cache" / "k8s"
KUBECONFORM = CACHE / "bin" / "kubeconform"
SCHEMA_LOCATIONS = [
    str(CACHE / "schemas" / "core" / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
    str(
        CACHE
        / "schemas"
        / "crd"
        / "{{ .Group }}-{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    ),
]


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    if not first.startswith("# expect: "):
        raise SystemExit(f"{path}: the first line must be `# expect: <part of the error>`")
    return first.removeprefix("# expect: ")


def render(overlay: Path) -> str:
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(overlay)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(overlay)]
    else:
        raise SystemExit("neither kubectl nor kustomize is installed (`make k8s-tools`)")
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def kubeconform(paths: list[Path]) -> list[dict[str, Any]]:
    command = [
        str(KUBECONFORM),
        "-strict",
        "-verbose",
        "-output",
        "json",
        "-kubernetes-version",
        "1.33.0",
    ]
    for location in SCHEMA_LOCATIONS:
        command += ["-schema-location", location]
    answer = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True)
    return json.loads(answer.stdout)["resources"] if answer.stdout.strip() else []


def main() -> int:
    started = time.monotonic()
    failures: list[str] = []
    if generate.drift():
        failures.append("deploy/ drifted from the code: run `make deploy-generate`")

    rendered_dir = CACHE / "rendered"
    rendered_dir.mkdir(parents=True, exist_ok=True)
    overlays = sorted(p for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
    for overlay in overlays:
        text = render(overlay)
        target = rendered_dir / f"{overlay.name}.yaml"
        target.write_text(text)
        docs = [doc for doc in yaml.safe_load_all(text) if doc]
        results = kubeconform([target])
        statuses = [r.get("status") for r in results]
        bad = [r for r in results if r.get("status") != "statusValid"]
        if len(results) != len(docs):
            failures.append(
                f"{overlay.name}: {len(docs)} resources, kubeconform saw {len(results)}"
            )
        for r in bad:
            failures.append(f"{overlay.name}: {r['kind']}/{r['name']}: {r['status']} {r['msg']}")
        for problem in policy.overlay(docs):
            failures.append(f"{overlay.name}: {problem}")
        print(
            f"[deploy] {overlay.name}: {len(docs)} resources, {len(bad)} not valid "
            f"({statuses.count('statusSkipped')} skipped)"
        )

    fixtures = sorted((DEPLOY / "tests" / "invalid").glob("*.yaml"))
    results = {Path(r["filename"]).name: r for r in kubeconform(fixtures)}
    for fixture in fixtures:
        result = results.get(fixture.name)
        wanted = expectation(fixture)
        if result is None or result["status"] not in ("statusInvalid", "statusError"):
            failures.append(f"fixture {fixture.name} passed validation: validation does not bite")
        elif wanted not in result["msg"]:
            failures.append(f"fixture {fixture.name} failed for another reason: {result['msg']}")
    print(f"[deploy] {len(fixtures)} invalid fixtures refused by kubeconform")

    policy_fixtures = sorted((DEPLOY / "tests" / "policy").glob("*.yaml"))
    for fixture in policy_fixtures:
        docs = [doc for doc in yaml.safe_load_all(fixture.read_text()) if doc]
        problems = policy.per_object(docs)
        if not any(expectation(fixture) in problem for problem in problems):
            failures.append(f"policy fixture {fixture.name} was not refused: {problems}")
    print(f"[deploy] {len(policy_fixtures)} policy fixtures refused")

    dockerfiles = sorted(DEPLOY.glob("Dockerfile*"))
    hadolint = Path(sys.executable).parent / "hadolint"
    for dockerfile in dockerfiles:
        answer = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True)
        if answer.returncode != 0:
            failures.append(f"hadolint {dockerfile.name}:\n{answer.stdout}{answer.stderr}")
    print(f"[deploy] hadolint on {len(dockerfiles)} Dockerfile(s)")

    for failure in failures:
        print(f"[deploy] FAIL {failure}", file=sys.stderr)
    print(f"[deploy] {'failed' if failures else 'ok'} in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
