"""Static-export folders: each account's exports live in a folder of its own below the root."""

from __future__ import annotations

import uuid
from pathlib import Path, PurePosixPath

from igny8.platforms.base import PlatformFailure


def account_root(root: Path, account_id: uuid.UUID) -> Path:
    return root.resolve() / str(account_id)


def confined_folder(root: Path, account_id: uuid.UUID, folder: str) -> Path:
    """`<root>/<account>/<folder>`, refusing any `folder` (absolute, `..`, a symlink) that would
    lead anywhere else: another tenant's exports are unreachable whatever the setting says."""
    if not folder:
        raise PlatformFailure("invalid_settings", "settings.folder is required")
    relative = PurePosixPath(folder.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts:
        raise PlatformFailure(
            "invalid_settings", "settings.folder must be a relative path without '..'"
        )
    own = account_root(root, account_id)
    resolved = (own / relative).resolve()
    if not inside(resolved, own):
        raise PlatformFailure("invalid_settings", "the folder must lie inside the account's folder")
    return resolved


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
