"""`igny8-dev-ai`: the local OpenAI-compatible development server.

    igny8-dev-ai [--port 8199] [--latency-ms 0] [--fail-rate 0.0] [--fail-modes 429,500]

Endpoints: POST /v1/chat/completions (honours `response_format` JSON schemas), POST
/v1/images/generations (real PNGs), GET /v1/models, POST /dev/faults to change latency and
injected failures while running (modes: 429, quota, 500, timeout, refusal, length, bad_json), and
GET /_stats/calls (calls answered per function and prompt; `?function=article` filters) with
DELETE /_stats/calls to reset the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from automation.devai.generators import answer, read_input
from automation.devai.png import render_png
from automation.devai.stats import CallStats, prompt_key

BANNER = "IGNY8 DEVELOPMENT AI SERVER - deterministic answers, not a real model, not OpenAI"
MODES = ("429", "quota", "500", "timeout", "refusal", "length", "bad_json")


@dataclass
class Faults:
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    modes: list[str] = field(default_factory=lambda: ["429", "500"])
    timeout_sleep_s: float = 30.0
    next_failures: list[str] = field(default_factory=list)
    """Failures to inject on the next calls, in order (then the rate applies)."""
    seed: int = 7
    calls: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick(self) -> str | None:
        self.calls += 1
        if self.next_failures:
            return self.next_failures.pop(0)
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return self._rng.choice(self.modes)
        return None


def _error(status: int, message: str, code: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code, "param": None}},
        status_code=status,
        headers={"retry-after-ms": "50"} if status == 429 else None,
    )


def create_app(faults: Faults | None = None, stats: CallStats | None = None) -> FastAPI:
    faults = faults or Faults()
    stats = stats or CallStats()
    app = FastAPI(title="igny8 development AI server", description=BANNER)
    app.state.faults = faults
    app.state.stats = stats

    async def paced(started: float, response: JSONResponse) -> JSONResponse:
        """A call takes the latency set, its answer's composing included: a provider's latency
        is the whole call, and a benchmark's bound counts calls x latency."""
        remaining = faults.latency_ms / 1000 - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return response

    async def injected(function: str) -> JSONResponse | str | None:
        mode = faults.pick()
        if mode is not None:
            stats.record_fault(function, mode)
        if mode == "429":
            return _error(
                429, "Rate limit reached (development server)", "rate_limit_exceeded", "requests"
            )
        if mode == "quota":
            return _error(
                429,
                "You exceeded your current quota (development server)",
                "insufficient_quota",
                "insufficient_quota",
            )
        if mode == "500":
            return _error(
                500, "The server had an error (development server)", "server_error", "server_error"
            )
        if mode == "timeout":
            await asyncio.sleep(faults.timeout_sleep_s)
        return mode

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": "dev-server/any", "object": "model", "owned_by": "igny8-dev"}],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        return await paced(time.monotonic(), await chat_answer(request))

    async def chat_answer(request: Request) -> JSONResponse:
        body = await request.json()
        messages = body.get("messages", [])
        response_format = body.get("response_format") or {}
        schema_spec = response_format.get("json_schema") or {}
        name, schema = (
            schema_spec.get("name", "answer"),
            schema_spec.get("schema", {"type": "object"}),
        )
        outcome = await injected(name)
        if isinstance(outcome, JSONResponse):
            return outcome
        text = json.dumps(answer(name, schema, messages))
        if outcome is None:
            stats.record(name, prompt_key(messages), read_input(messages))
        content: str | None = text
        refusal, finish = None, "stop"
        if outcome == "refusal":
            content, refusal = None, "I can't help with that request. (development server)"
        elif outcome == "length":
            content, finish = text[: len(text) // 2], "length"
        elif outcome == "bad_json":
            content = json.dumps({"unexpected": True})
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 8
        completion_tokens = len(content or refusal or "") // 4 + 1
        return JSONResponse(
            {
                "id": f"chatcmpl-dev-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": f"dev-server/{body.get('model', 'unknown')}",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish,
                        "logprobs": None,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": "igny8-dev-server",
            }
        )

    @app.post("/v1/images/generations")
    async def images(request: Request) -> JSONResponse:
        return await paced(time.monotonic(), await image_answer(request))

    async def image_answer(request: Request) -> JSONResponse:
        body = await request.json()
        outcome = await injected("image")
        if isinstance(outcome, JSONResponse):
            return outcome
        prompt = str(body.get("prompt", ""))
        if outcome is None:
            stats.record("image", prompt_key(prompt), {"prompt": prompt, "size": body.get("size")})
        width, height = (int(v) for v in str(body.get("size", "256x256")).split("x"))
        width, height = min(width, 1024), min(height, 1024)
        count = int(body.get("n", 1))
        data = [
            {
                "b64_json": base64.b64encode(
                    render_png(f"{body.get('prompt', '')}#{i}", width, height)
                ).decode(),
                "revised_prompt": body.get("prompt", ""),
            }
            for i in range(count)
        ]
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": data,
                "model": f"dev-server/{body.get('model', 'image')}",
                "usage": {
                    "input_tokens": len(str(body.get("prompt", ""))) // 4 + 1,
                    "output_tokens": 0,
                    "total_tokens": len(str(body.get("prompt", ""))) // 4 + 1,
                },
            }
        )

    @app.post("/dev/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        body = await request.json()
        for key in ("latency_ms", "fail_rate", "modes", "timeout_sleep_s", "next_failures"):
            if key in body:
                setattr(faults, key, body[key])
        return {
            "latency_ms": faults.latency_ms,
            "fail_rate": faults.fail_rate,
            "modes": faults.modes,
            "next_failures": faults.next_failures,
            "calls": faults.calls,
        }

    @app.get("/_stats/calls")
    async def calls(function: str | None = None) -> dict[str, Any]:
        """Answered calls per function (the schema's name, or `image`) and prompt (a digest of
        the messages; `input` shows the request's INPUT JSON or the image prompt)."""
        return stats.snapshot(function)

    @app.delete("/_stats/calls")
    async def reset_calls() -> dict[str, Any]:
        stats.reset()
        return stats.snapshot()

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="igny8-dev-ai", description=BANNER)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-modes", default="429,500")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    modes = [m for m in args.fail_modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown fail modes {sorted(unknown)}; known: {', '.join(MODES)}")
    print(f"{BANNER}\nlistening on http://{args.host}:{args.port}/v1", flush=True)
    faults = Faults(
        latency_ms=args.latency_ms, fail_rate=args.fail_rate, modes=modes, seed=args.seed
    )
    uvicorn.run(create_app(faults), host=args.host, port=args.port, log_level="warning")
    return 0
