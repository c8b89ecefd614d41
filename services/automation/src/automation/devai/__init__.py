"""The local OpenAI-compatible development server (a test double for the AI provider).

Deterministic, schema-valid answers; real PNG images; configurable latency and injected failures.
It says it is a development server at start-up and in every answer's model name.
"""
