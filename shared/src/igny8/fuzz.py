"""The schemathesis harness every service's HTTP API is fuzzed with (`igny8.testing.fuzz_service`).

It loads the live service's `/openapi.json`, then for every operation:
- calls it without a token and fails unless the answer is 401 (probes and docs are open);
- generates up to `max_examples` valid and a few invalid requests (schemathesis 4, positive and
  negative modes) with a fresh service token, the seeded tenant and seeded path ids, and fails on
  any 5xx, any status the document does not declare, and any body that does not match its schema.

The run is bounded: operations left when `budget_s` is spent are reported as not fuzzed (a
failure, so a slow service is noticed rather than silently half-tested). Deleting operations run
last so the seeded objects live through the rest.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

_OURS = frozenset({"authorization", "x-account-id", "x-roles"})
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class FuzzTarget:
    base_url: str
    headers: Callable[[str], Mapping[str, str]]
    """Fresh auth headers for an operation label (`"GET /sites/{site_id}"`): a new token per
    request, because service tokens live at most five minutes."""
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    """Seeded ids by path parameter name, so requests reach real objects and not only 404s."""
    max_examples: int = 15
    negative_examples: int = 10
    coverage_cases: int = 40
    """Schemathesis's deterministic coverage cases per operation (boundaries such as the largest
    allowed integer, missing and malformed fields) — where the 500s of issue 12 hid."""
    budget_s: float = 90.0
    skip: Collection[str] = ()
    """Operation labels not to fuzz, each with a reason in the caller's code."""
    unauthenticated: Collection[str] = ()
    """Operation labels that authenticate otherwise (a signed webhook): not expected to 401."""


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    """Answers by operation and status: shows the fuzzer got past validation and into the
    handlers (2xx) and not only into 404s and 422s."""

    def summary(self) -> str:
        head = (
            f"{len(self.operations)} operations, {self.requests} requests in "
            f"{self.seconds:.1f}s, {len(self.failures)} failures"
        )
        answers = [
            f"  {label}: " + ", ".join(f"{s}x{n}" for s, n in sorted(counts.items()))
            for label, counts in sorted(self.statuses.items())
        ]
        return "\n".join([head, *answers, *self.failures])


def _order(label: str) -> tuple[int, str]:
    return (1 if label.startswith("DELETE ") else 0, label)


def fuzz_service(target: FuzzTarget) -> FuzzReport:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{target.base_url}/openapi.json", wait_for_schema=30)
    operations = {}
    report = FuzzReport()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            report.failures.append(f"the OpenAPI document has an invalid operation: {result}")
            continue
        operation = result.ok()
        operations[operation.label] = operation
    session = requests.Session()
    for label in sorted(operations, key=_order):
        operation = operations[label]
        report.operations.append(label)
        if operation.path in OPEN_PATHS:
            continue  # probes take no input, and /readyz answers a documented 503 by design
        if label not in target.unauthenticated:
            _check_token_required(session, target, operation, report)
        if label in target.skip:
            continue
        if time.monotonic() - started > target.budget_s:
            report.failures.append(
                f"{label}: not fuzzed, the {target.budget_s:.0f}s budget ran out"
            )
            continue
        fixed = {
            p.name: target.path_parameters[p.name]
            for p in operation.path_parameters
            if p.name in target.path_parameters
        }
        failure = _coverage(session, target, operation, fixed, report)
        if failure:
            report.failures.append(f"{label} [coverage]: {failure}")
            continue
        for mode, examples in (
            (GenerationMode.POSITIVE, target.max_examples),
            (GenerationMode.NEGATIVE, target.negative_examples),
        ):
            if examples:
                failure = _fuzz_operation(session, target, operation, fixed, mode, examples, report)
                if failure:
                    report.failures.append(f"{label} [{mode.value}]: {failure}")
                    break
    report.seconds = time.monotonic() - started
    return report


def _check_token_required(
    session: requests.Session, target: FuzzTarget, operation: Any, report: FuzzReport
) -> None:
    path = operation.path
    for name in {p.name for p in operation.path_parameters}:
        value = target.path_parameters.get(name, "00000000-0000-4000-8000-000000000000")
        path = path.replace("{" + name + "}", str(value))
    answer = session.request(operation.method.upper(), f"{target.base_url}{path}", timeout=30)
    report.requests += 1
    if answer.status_code != 401:
        report.failures.append(
            f"{operation.label}: answered {answer.status_code} without a service token"
        )


def _send(
    session: requests.Session, target: FuzzTarget, operation: Any, case: Any, report: FuzzReport
) -> str | None:
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in _OURS}
    case.headers = {**generated, **target.headers(operation.label)}
    report.requests += 1
    response = case.call(session=session, timeout=30)
    report.statuses.setdefault(operation.label, Counter())[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except (Exception, BaseExceptionGroup) as exc:
        body = response.text[:300].replace("\n", " ")
        return (
            f"{type(exc).__name__}: {str(exc)[:800]}\n    request: {case.method} "
            f"{case.formatted_path} query={case.query} body={str(case.body)[:200]}\n"
            f"    answer {response.status_code}: {body}"
        )
    return None


def _coverage(
    session: requests.Session,
    target: FuzzTarget,
    operation: Any,
    fixed: dict[str, str],
    report: FuzzReport,
) -> str | None:
    # `iter_coverage_cases` is what schemathesis's own engine runs for its coverage phase.
    schema = operation.schema
    cases = schema.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
    )
    for case in itertools.islice(cases, target.coverage_cases):
        if case.path_parameters and all(_is_uuid(case.path_parameters.get(name)) for name in fixed):
            case.path_parameters = {**case.path_parameters, **fixed}
        failure = _send(session, target, operation, case, report)
        if failure:
            return failure
    return None


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _fuzz_operation(
    session: requests.Session,
    target: FuzzTarget,
    operation: Any,
    fixed: dict[str, str],
    mode: GenerationMode,
    examples: int,
    report: FuzzReport,
) -> str | None:
    """Runs the examples; returns the first failure, described, or None."""
    seen: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is enough
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def run(case: Any) -> None:
        failure = _send(session, target, operation, case, report)
        if failure:
            seen.append(failure)
            raise AssertionError(failure)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing invalid to send (an operation without parameters or body)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup
        return seen[0] if seen else f"{type(exc).__name__}: {str(exc)[:800]}"
    return None
