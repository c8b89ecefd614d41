"""The demo: an account that buys its credits (a package paid by card through Stripe), a site (through integration), the sample keywords, one full
pipeline run with live progress, then a summary. Needs the stack of `scripts/run_stack.py` up."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from demo_purchase import buy_credits

from gateway.adapters.jwt_tokens import dev_token
from gateway.config import GatewaySettings
from igny8.auth import auth_headers

ROOT = Path(__file__).resolve().parents[1]
STAGES = {
    1: "clustering calls",
    2: "clusters planned",
    3: "task batches",
    4: "articles",
    5: "prompt sets",
    6: "images",
}


class RequestFailed(Exception):
    """A demo request that did not answer as expected: the demo says which and stops."""


async def call(
    client: httpx.AsyncClient, method: str, address: str, *, ok: tuple[int, ...] = (), **kw: Any
) -> httpx.Response:
    try:
        answer = await client.request(method, address, **kw)
    except httpx.TransportError as exc:
        raise RequestFailed(
            f"{method} {address} could not be sent ({type(exc).__name__}): is the service up? "
            "(`make infra-status`, logs in .infra/logs/)"
        ) from None
    if answer.status_code >= 400 and answer.status_code not in ok:
        raise RequestFailed(
            f"{method} {address} answered {answer.status_code}: {answer.text[:500]}"
        )
    return answer


#: The demo's caps, and why: the sample file has 294 keywords, which the development AI server
#: groups into about two dozen clusters. One clustering call sees every keyword (clusters never
#: span calls, so a split batch would split topics too); one idea per cluster, 700-word articles
#: and one small image each show every stage in about a minute.
CAPS = {
    "batch_sizes": {"1": 300},
    "ideas_per_cluster": 1,
    "target_word_count": 700,
    "inline_images": 1,
    "image_size": "256x256",
}


def url(service: str) -> str:
    port = {
        "gateway": 8100,
        "billing": 8101,
        "automation": 8102,
        "integration": 8103,
        "publishing": 8104,
    }[service]
    return f"http://127.0.0.1:{os.environ.get(f'{service.upper()}_HTTP_PORT', port)}"


def v1(path: str) -> str:
    """Everything a customer does goes through the gateway's public API."""
    return f"{url('gateway')}/v1{path}"


async def main(keywords_file: Path, credits: int) -> int:
    keywords = keywords_file.read_bytes()
    account = uuid.uuid4()

    def h(target: str, *roles: str) -> dict[str, str]:
        return auth_headers(None, "gateway", target, account, roles)  # GATEWAY_SERVICE_PRIVATE_KEY

    gateway = GatewaySettings()
    user = "demo-user"
    token = dev_token(
        gateway.jwt_dev_secret.get_secret_value(), gateway.jwt_issuer, gateway.jwt_audience, user
    )
    me = {"Authorization": f"Bearer {token}", "X-Account-Id": str(account)}

    async with httpx.AsyncClient(timeout=30) as client:
        print(f"user        {user}, a development token from `gateway dev-token`")
        await call(
            client,
            "POST",
            v1("/accounts"),
            json={"name": "Green Thumb Media", "account_id": str(account)},
            headers={"Authorization": f"Bearer {token}"},
        )
        print(f"account     {account} (owner {user}; its billing account opened by the gateway)")
        await buy_credits(client, account, credits)  # a package paid through Stripe (stripe-mock)
        site = (
            await call(
                client,
                "POST",
                v1("/sites"),
                json={
                    "name": "Green Thumb Journal",
                    "url": "https://greenthumb.example",
                    "sector": "home & garden",
                    "niche": "gardening, coffee, running, home office, money",
                    "language": "en",
                },
                headers=me,
            )
        ).json()
        site_id = site["site_id"]
        print(f"site        {site['name']} ({site_id}), announced to automation via site.created")
        for _ in range(300):
            if (
                await call(
                    client,
                    "GET",
                    v1(f"/sites/{site_id}/config"),
                    ok=(404,),
                    headers=me,
                )
            ).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            print("automation did not learn the site in time")
            return 1
        # Publishing: a static export folder (below the account's own folder of the export root)
        # as the site's destination, approval automatic
        folder = f"demo-{site_id[:8]}"
        export_root = Path(os.environ.get("INTEGRATION_STATIC_ROOT", "var/exports")).resolve()
        (export_root / str(account) / folder).mkdir(parents=True, exist_ok=True)
        await call(
            client,
            "POST",
            f"{url('integration')}/sites/{site_id}/integrations",
            json={
                "platform": "static",
                "base_url": "https://greenthumb.example",
                "settings": {"folder": folder},
            },
            headers=h("integration"),
        )
        for _ in range(300):
            answer = await client.put(
                f"{url('publishing')}/sites/{site_id}/settings",
                json={"approval": "auto"},
                headers=h("publishing"),
            )
            if answer.status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            print("publishing did not learn the site in time")
            return 1
        print(
            f"publishing  static export to {export_root / str(account) / folder}, approval automatic"
        )
        await call(
            client,
            "PUT",
            v1(f"/sites/{site_id}/config"),
            json=CAPS,
            headers=me,
        )
        print(
            "caps        every keyword clustered in one call, one idea per cluster, ~700-word "
            "articles with one 256px image: every stage runs, in about a minute (scripts/demo.py CAPS)"
        )
        imported = (
            await call(
                client,
                "POST",
                v1(f"/sites/{site_id}/keywords"),
                content=keywords,
                headers={**me, "Content-Type": "text/csv"},
            )
        ).json()
        print(
            f"keywords    {imported['imported']} imported from {keywords_file.name} "
            f"({imported['duplicates']} duplicates, {len(imported['errors'])} bad rows)"
        )
        estimate = (
            await call(
                client,
                "POST",
                v1(f"/sites/{site_id}/runs/estimate"),
                headers=me,
            )
        ).json()
        print(
            f"estimate    {estimate['quantities']} → {estimate['quote']['credits']} credits (quantities include the 20% buffer)"
        )
        started = await call(
            client,
            "POST",
            v1(f"/sites/{site_id}/runs"),
            ok=(402,),
            headers={**me, "Idempotency-Key": f"demo-run-{site_id}"},
        )
        if started.status_code == 402:
            error = started.json()["error"]
            print(
                f"refused     {error['message']} (required {error.get('required')}, "
                f"available {error.get('available')})"
            )
            return 1
        run_id = started.json()["run_id"]
        print(f"run         {run_id} ({started.json()['status']})\n")
        began, last = time.monotonic(), ""
        while True:
            run = (await call(client, "GET", v1(f"/runs/{run_id}"), headers=me)).json()
            progress = run.get("progress", {})
            line = (
                " | ".join(
                    f"{n}:{STAGES[n]} {progress.get(str(n), {}).get('done', 0)}"
                    f"{'✓' if run['stage_results'].get(str(n), {}).get('status') == 'completed' else ''}"
                    for n in range(1, 7)
                )
                + f" | credits {run['credits_charged']} | {run['status']}"
            )
            if line != last:
                print(f"  [{time.monotonic() - began:5.1f}s] {line}", flush=True)
                last = line
            if run["status"] in ("completed", "failed", "cancelled", "rejected", "paused"):
                break
            await asyncio.sleep(0.5)
        counts = {}
        for kind in ("clusters", "ideas", "content", "images"):
            items = (
                await call(
                    client,
                    "GET",
                    v1(f"/sites/{site_id}/{kind}"),
                    params={"limit": 200},
                    headers=me,
                )
            ).json()["items"]
            counts[kind] = len(items)
        await asyncio.sleep(1.0)
        balance = (await call(client, "GET", v1("/credits/balance"), headers=me)).json()
        published: list[dict] = []
        if run["status"] == "completed":
            for _ in range(600):  # publishing picks the articles up from content.ready
                published = (
                    await client.get(
                        f"{url('publishing')}/sites/{site_id}/publications",
                        params={"status": "published", "limit": 500},
                        headers=h("publishing"),
                    )
                ).json()["items"]
                if len(published) >= counts["content"]:
                    break
                await asyncio.sleep(0.5)
        print(f"\nsummary     run {run['status']} in {time.monotonic() - began:.1f}s")
        print(
            f"            {counts['clusters']} clusters, {counts['ideas']} ideas, {counts['content']} articles, "
            f"{counts['images']} images"
        )
        print(
            f"            {run['credits_charged']} credits charged; balance {balance['available']} available, "
            f"{balance['held']} held"
        )
        print(
            f"            {len(published)} of {counts['content']} articles published to "
            f"{export_root / str(account) / folder}"
        )
        print(f"            log:   GET {v1(f'/runs/{run_id}/log')} (?stage=N for one stage)")
        print(f"            trace: GET {v1(f'/runs/{run_id}/trace')} (one JSON event per line)")
        done = run["status"] == "completed" and len(published) == counts["content"]
        return 0 if done else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--keywords", type=Path, default=ROOT / "data" / "sample_keywords.csv")
    parser.add_argument("--credits", type=int, default=50_000)
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.keywords, args.credits)))
    except RequestFailed as failure:
        print(f"\ndemo stopped: {failure}", file=sys.stderr)
        sys.exit(1)
