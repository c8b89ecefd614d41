"""Helpers for the cross-service tests: services run as separate processes."""

from __future__ import annotations

import asyncio

import httpx

from igny8.testing import ChildProcess

SERVICES = ("gateway", "billing", "automation", "integration", "publishing")


async def wait_ready(base_url: str, process: ChildProcess, timeout: float = 60.0) -> dict:
    async with httpx.AsyncClient() as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if process.proc.poll() is not None:
                raise AssertionError(f"service exited:\n{process.output()[-3000:]}")
            try:
                answer = await client.get(f"{base_url}/readyz", timeout=3)
                if answer.status_code == 200:
                    return answer.json()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{base_url} not ready:\n{process.output()[-3000:]}")


async def wait_http(url: str, process: ChildProcess, timeout: float = 60.0) -> None:
    async with httpx.AsyncClient() as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if process.proc.poll() is not None:
                raise AssertionError(f"process exited:\n{process.output()[-3000:]}")
            try:
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not answer:\n{process.output()[-3000:]}")
