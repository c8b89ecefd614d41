"""The static export destination: a folder of the integration's account under the export root
(`<root>/<account>/<folder>`, `igny8.platforms.static`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from igny8.contracts.sites import InventoryItem
from igny8.platforms import PlatformFailure
from igny8.platforms.static import confined_folder, inside
from integration.domain.model import ConnectionResult


class StaticFolder:
    def __init__(self, export_root: Path, max_items: int = 20_000) -> None:
        self._root = export_root.resolve()
        self._max_items = max_items

    def folder(self, account_id: uuid.UUID, settings: dict[str, object]) -> Path:
        return confined_folder(self._root, account_id, str(settings.get("folder") or ""))

    async def test(self, account_id: uuid.UUID, settings: dict[str, object]) -> ConnectionResult:
        try:
            folder = self.folder(account_id, settings)
        except PlatformFailure as failure:
            return ConnectionResult(False, failure.reason, failure.detail)
        # Results name the folder as the customer gave it, never the server's absolute path.
        shown = str(settings.get("folder"))
        if not folder.is_dir():
            return ConnectionResult(False, "missing_folder", f"folder {shown!r} does not exist")
        probe = folder / f".igny8-probe-{uuid.uuid4().hex}"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            detail = f"folder {shown!r} is not writable ({exc.strerror or type(exc).__name__})"
            return ConnectionResult(False, "not_writable", detail)
        return ConnectionResult(True, "ok", f"folder {shown!r} is writable")

    async def inventory(
        self, account_id: uuid.UUID, settings: dict[str, object]
    ) -> list[InventoryItem]:
        folder = self.folder(account_id, settings)
        if not folder.is_dir():  # not an empty inventory: that would remove every synced file
            raise PlatformFailure("missing_folder", f"{folder} does not exist")
        items: list[InventoryItem] = []
        for path in sorted(folder.rglob("*")):
            # a symlink inside the folder may point at another tenant's files: skip what leaves it
            if (
                path.suffix in (".md", ".html")
                and path.is_file()
                and inside(path.resolve(), folder)
            ):
                if len(items) >= self._max_items:
                    raise PlatformFailure("too_large", f"more than {self._max_items} files")
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
