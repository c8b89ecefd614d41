"""Images in a local directory (served to publishing over internal HTTP)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path


class LocalImageStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("storage key outside the image root")
        return path

    async def save(
        self, account_id: uuid.UUID, site_id: uuid.UUID, image_id: uuid.UUID, png: bytes
    ) -> str:
        key = f"{account_id}/{site_id}/{image_id}.png"
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(png)
            partial.replace(path)  # never a half-written file under the real name

        await asyncio.to_thread(write)
        return key

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)
