"""The production AI adapter (official openai SDK) against the development server, over HTTP."""

from __future__ import annotations

import struct
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import jsonschema
import pytest

from automation.adapters.openai_engine import FunctionConfig, OpenAIEngine, TokenPrice
from automation.domain.ai import (
    SCHEMAS,
    AIFunction,
    AINotConfigured,
    AIQuotaExceeded,
    AIRateLimited,
    AIRefused,
    AISchemaViolation,
    AITruncated,
    AIUnavailable,
)
from igny8.testing import ChildProcess, free_port

KEYWORDS = [
    "best compost bin",
    "compost bin for apartments",
    "how to start composting",
    "raised garden bed ideas",
    "raised garden bed soil",
    "tomato seedlings care",
]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("devai") / "devai.log"
    process = ChildProcess(
        [str(Path(sys.executable).parent / "igny8-dev-ai"), "--port", str(port)], log
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            import time

            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", process
    process.stop()


@pytest.fixture
def base_url(dev_server):
    url, _ = dev_server
    httpx.post(f"{url}/dev/faults", json={"latency_ms": 0, "fail_rate": 0, "next_failures": []})
    return url


def faults(base_url: str, **settings) -> None:
    httpx.post(f"{base_url}/dev/faults", json=settings).raise_for_status()


def engine(
    base_url: str | None, retries: int = 2, timeout: float = 5.0, api_key: str | None = None
) -> OpenAIEngine:
    api = f"{base_url}/v1" if base_url else None
    config = {
        f: FunctionConfig("gpt-4.1-mini", api_key, api, timeout, retries, "64x48")
        for f in AIFunction
    }

    async def no_wait(_: float) -> None:
        return None

    return OpenAIEngine(
        config,
        prices={"gpt-4.1-mini": TokenPrice(Decimal("0.40"), Decimal("1.60"))},
        sleep=no_wait,
    )


def test_the_dev_server_announces_itself(dev_server):
    _, process = dev_server
    assert "DEVELOPMENT AI SERVER" in process.output()


async def test_clusters_are_schema_valid_cover_the_keywords_and_report_usage(base_url):
    result = await engine(base_url).complete(
        AIFunction.CLUSTER_KEYWORDS, {"site_name": "Garden"}, {"keywords": KEYWORDS}, 2000
    )
    jsonschema.validate(result.data, SCHEMAS[AIFunction.CLUSTER_KEYWORDS][1])
    clustered = sorted(k for c in result.data["clusters"] for k in c["keywords"])
    assert clustered == sorted(KEYWORDS)
    assert result.usage.model.startswith("dev-server/")
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.provider_cost_usd > 0
    assert (result.prompt_version, result.attempts) == ("cluster_keywords.v1", 1)


async def test_answers_are_deterministic(base_url):
    first = await engine(base_url).complete(
        AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
    )
    again = await engine(base_url).complete(
        AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
    )
    assert first.data == again.data


@pytest.mark.parametrize(
    "function",
    [AIFunction.GENERATE_IDEAS, AIFunction.GENERATE_CONTENT, AIFunction.GENERATE_IMAGE_PROMPTS],
)
async def test_every_text_function_answers_its_strict_schema(base_url, function):
    data = {
        "cluster": {"name": "Compost", "keywords": KEYWORDS[:3]},
        "count": 3,
        "idea": {
            "title": "Composting at home",
            "outline": ["Why", "How"],
            "target_keywords": ["compost"],
        },
        "target_words": 600,
        "title": "Composting at home",
        "inline_count": 2,
    }
    result = await engine(base_url).complete(
        function, {"count": 3, "target_words": 600}, data, 4000
    )
    jsonschema.validate(result.data, SCHEMAS[function][1])
    if function is AIFunction.GENERATE_CONTENT:
        assert 550 <= result.data["word_count"] <= 700


async def test_images_are_real_pngs_of_the_requested_size(base_url):
    image = await engine(base_url).image("a compost bin in a garden", "64x48")
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", image.png[16:24])
    assert (width, height) == (64, 48)


async def test_rate_limits_and_server_errors_are_retried_and_only_the_used_attempt_counts(base_url):
    faults(base_url, next_failures=["429", "500"])
    result = await engine(base_url, retries=2).complete(
        AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
    )
    assert result.attempts == 3
    faults(base_url, next_failures=["429", "429", "429"])
    with pytest.raises(AIRateLimited):
        await engine(base_url, retries=2).complete(
            AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
        )


async def test_insufficient_quota_is_not_retried(base_url):
    faults(base_url, next_failures=["quota", "quota"])
    with pytest.raises(AIQuotaExceeded):
        await engine(base_url, retries=3).complete(
            AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
        )
    answer = httpx.post(f"{base_url}/dev/faults", json={}).json()
    assert answer["next_failures"] == ["quota"], "exactly one call was made"


@pytest.mark.parametrize(("mode", "error"), [("refusal", AIRefused), ("length", AITruncated)])
async def test_refusal_and_truncation_are_typed_failures(base_url, mode, error):
    faults(base_url, next_failures=[mode])
    with pytest.raises(error):
        await engine(base_url).complete(
            AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
        )


async def test_schema_violations_are_typed_and_retried(base_url):
    faults(base_url, next_failures=["bad_json", "bad_json", "bad_json"])
    with pytest.raises(AISchemaViolation):
        await engine(base_url, retries=2).complete(
            AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
        )
    faults(base_url, next_failures=["bad_json"])
    result = await engine(base_url, retries=2).complete(
        AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
    )
    assert result.attempts == 2


async def test_timeouts_are_explicit_and_typed(base_url):
    faults(base_url, next_failures=["timeout"], timeout_sleep_s=3)
    with pytest.raises(AIUnavailable, match="timed out"):
        await engine(base_url, retries=0, timeout=0.5).complete(
            AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 2000
        )


async def test_without_key_or_base_url_the_ai_refuses_with_a_clear_error():
    with pytest.raises(AINotConfigured, match="AUTOMATION_OPENAI_API_KEY"):
        engine(None).ensure_configured()
    with pytest.raises(AINotConfigured):
        await engine(None).complete(AIFunction.CLUSTER_KEYWORDS, {}, {"keywords": KEYWORDS}, 100)
