"""The static export destination: a folder under the configured export root."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from igny8.contracts.sites import InventoryItem
from igny8.platforms import PlatformFailure
from integration.domain.model import ConnectionResult


class StaticFolder:
    def __init__(self, export_root: Path) -> None:
        self._root = export_root.resolve()

    def folder(self, settings: dict[str, object]) -> Path:
        relative = str(settings.get("folder") or "")
        if not relative:
            raise PlatformFailure("invalid_settings", "settings.folder is required")
        folder = (self._root / relative).resolve()
        if folder != self._root and self._root not in folder.parents:
            raise PlatformFailure("invalid_settings", "the folder must lie inside the export root")
        return folder

    async def test(self, settings: dict[str, object]) -> ConnectionResult:
        try:
            folder = self.folder(settings)
        except PlatformFailure as failure:
            return ConnectionResult(False, failure.reason, failure.detail)
        if not folder.is_dir():
            return ConnectionResult(False, "missing_folder", f"{folder} does not exist")
        probe = folder / f".igny8-probe-{uuid.uuid4().hex}"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return ConnectionResult(False, "not_writable", str(exc))
        return ConnectionResult(True, "ok", str(folder))

    async def inventory(self, settings: dict[str, object]) -> list[InventoryItem]:
        folder = self.folder(settings)
        items = []
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".md", ".html") and path.is_file():
                stat = path.stat()
                items.append(
                    InventoryItem(
                        kind="file",
                        remote_id=str(path.relative_to(folder)),
                        title=path.stem,
                        url=str(path.relative_to(folder)),
                        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
        return items


def writable(path: Path) -> bool:
    return os.access(path, os.W_OK)
