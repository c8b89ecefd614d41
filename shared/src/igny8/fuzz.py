"""The schemathesis harness every service's HTTP API is fuzzed with (`igny8.testing.fuzz_service`).

It loads the live service's `/openapi.json`, then for every operation:
- calls it without a token and fails unless the answer is 401 (probes and docs are open);
- generates up to `max_examples` valid and a few invalid requests (schemathesis 4, positive and
  negative modes) with a fresh service token, the seeded tenant and seeded path ids, and fails on
  any 5xx, any status the document does not declare, and any body that does not match its schema.

An operation whose OpenAPI security names a scheme other than the service token
(`igny8.webapi.signed_by`, e.g. Stripe's signed webhook) is authenticated by that scheme instead:
the unauthenticated call must then be refused with the 400 or 401 the operation declares.

The run is bounded: the token check and coverage cases run for every operation; the generated
requests run while `budget_s` lasts, and the operations the budget left out are listed in the
report's summary (printed by every fuzz test), so a slow machine gets a shorter run, not a flaky
failure. Deleting operations run last so the seeded objects live through the rest.
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
SERVICE_TOKEN_SCHEME = "serviceToken"  # noqa: S105 (a scheme name, not a secret)
"""The security scheme `igny8.webapi.finish_openapi` names for the service token."""
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
    coverage_cases: int = 30
    """Schemathesis's deterministic coverage cases per operation (boundaries such as the largest
    allowed integer, missing and malformed fields) — where the 500s of issue 12 hid."""
    budget_s: float = 90.0
    skip: Collection[str] = ()
    """Operation labels not to fuzz, each with a reason in the caller's code."""


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    unfuzzed: list[str] = field(default_factory=list)
    """Operations whose generated requests the time budget left out (their token check and
    coverage cases ran)."""
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
        skipped = (
            [f"  budget spent before generated requests for: {', '.join(self.unfuzzed)}"]
            if self.unfuzzed
            else []
        )
        return "\n".join([head, *answers, *skipped, *self.failures])


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
    fuzzable = []
    # Pass 1, every operation: the token check and the deterministic coverage cases.
    for label in sorted(operations, key=_order):
        operation = operations[label]
        report.operations.append(label)
        if operation.path in OPEN_PATHS:
            continue  # probes take no input, and /readyz answers a documented 503 by design
        _check_token_required(session, target, operation, report)
        if label in target.skip:
            continue
        fixed = _fixed_path_parameters(target, operation)
        failure = _coverage(session, target, operation, fixed, report)
        if failure:
            report.failures.append(f"{label} [coverage]: {failure}")
        else:
            fuzzable.append((operation, fixed))
    # Pass 2, while the budget lasts: generated valid and invalid requests.
    for operation, fixed in sorted(fuzzable, key=lambda item: _order(item[0].label)):
        if time.monotonic() - started > target.budget_s:
            report.unfuzzed.append(operation.label)
            continue
        for mode, examples in (
            (GenerationMode.POSITIVE, target.max_examples),
            (GenerationMode.NEGATIVE, target.negative_examples),
        ):
            if examples:
                failure = _fuzz_operation(session, target, operation, fixed, mode, examples, report)
                if failure:
                    report.failures.append(f"{operation.label} [{mode.value}]: {failure}")
                    break
    report.seconds = time.monotonic() - started
    return report


def _fixed_path_parameters(target: FuzzTarget, operation: Any) -> dict[str, str]:
    return {
        p.name: target.path_parameters[p.name]
        for p in operation.path_parameters
        if p.name in target.path_parameters
    }


def _check_token_required(
    session: requests.Session, target: FuzzTarget, operation: Any, report: FuzzReport
) -> None:
    path = operation.path
    for name in {p.name for p in operation.path_parameters}:
        value = target.path_parameters.get(name, "00000000-0000-4000-8000-000000000000")
        path = path.replace("{" + name + "}", str(value))
    answer = session.request(operation.method.upper(), f"{target.base_url}{path}", timeout=30)
    report.requests += 1
    others = _other_schemes(operation)
    if not others:
        if answer.status_code != 401:
            report.failures.append(
                f"{operation.label}: answered {answer.status_code} without a service token"
            )
        return
    declared = {str(status) for status in (operation.definition.raw.get("responses") or {})}
    refusals = {"400", "401"} & declared
    if str(answer.status_code) not in refusals:
        report.failures.append(
            f"{operation.label}: answered {answer.status_code} without its "
            f"{' or '.join(others)} credentials (expected one of its declared "
            f"{', '.join(sorted(refusals)) or '400 or 401 — it declares neither'})"
        )


def _other_schemes(operation: Any) -> list[str]:
    """The security schemes an operation is authenticated by when the service token is not one
    of them (an empty list: the service token, or nothing — both expect 401 unauthenticated)."""
    requirements = operation.definition.raw.get("security") or []
    names = sorted({name for requirement in requirements for name in requirement})
    return [] if not names or SERVICE_TOKEN_SCHEME in names else names


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
