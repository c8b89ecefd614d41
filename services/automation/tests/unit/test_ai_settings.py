"""AI configuration: per-function overrides over AUTOMATION_OPENAI_*, then OPENAI_* fallbacks."""

from __future__ import annotations

from automation.adapters.ai_settings import engine_from_settings
from automation.config import AutomationSettings
from automation.domain.ai import AIFunction


def test_standard_openai_variables_are_the_fallback(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8199/v1")
    monkeypatch.delenv("AUTOMATION_OPENAI_BASE_URL", raising=False)
    settings = AutomationSettings()
    assert settings.openai_base_url == "http://127.0.0.1:8199/v1"
    monkeypatch.setenv("AUTOMATION_OPENAI_BASE_URL", "http://127.0.0.1:9000/v1")
    assert AutomationSettings().openai_base_url == "http://127.0.0.1:9000/v1"


def test_per_function_overrides(monkeypatch):
    monkeypatch.setenv("AUTOMATION_OPENAI_BASE_URL", "http://127.0.0.1:8199/v1")
    monkeypatch.setenv(
        "AUTOMATION_OPENAI_FUNCTIONS",
        '{"generate_content": {"model": "gpt-4.1", "timeout_s": 120, "max_retries": 1}}',
    )
    engine = engine_from_settings(AutomationSettings())
    content = engine._configs[AIFunction.GENERATE_CONTENT]
    clusters = engine._configs[AIFunction.CLUSTER_KEYWORDS]
    image = engine._configs[AIFunction.GENERATE_IMAGE]
    assert (content.model, content.timeout_s, content.max_retries) == ("gpt-4.1", 120, 1)
    assert (clusters.model, clusters.timeout_s) == ("gpt-4.1-mini", 60.0)
    assert image.model == "gpt-image-1"
    engine.ensure_configured()
