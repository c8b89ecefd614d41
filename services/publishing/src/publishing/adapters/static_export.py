"""Static export destination: Markdown with YAML front matter (or HTML), images beside it, inside
the integration's folder below the account's own folder of the export root — never outside it.

Idempotent by construction (the file name is the publication's slug; writes are atomic). The
`modified` stamp is the SHA-256 of the file we wrote, so a file someone edited since is never
overwritten."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import yaml
from markdownify import markdownify

from igny8.platforms.base import PlatformFailure
from igny8.platforms.static import confined_folder
from publishing.domain.errors import DestinationFailure
from publishing.domain.media import place_images, repoint
from publishing.ports import Hooks, Known, Post, RemotePost, Target


class StaticExport:
    def __init__(self, export_root: Path) -> None:
        self._root = export_root.resolve()

    def folder(self, target: Target) -> Path:
        """`<root>/<account>/<folder>` — integration's rule (igny8.platforms.static): another
        account's exports are unreachable whatever the setting says."""
        try:
            return confined_folder(
                self._root,
                target.integration.account_id,
                str(target.integration.settings.get("folder") or ""),
            )
        except PlatformFailure as failure:
            raise DestinationFailure(failure.reason, failure.detail, permanent=True) from None

    async def publish(self, target: Target, post: Post, known: Known, hooks: Hooks) -> RemotePost:
        folder = self.folder(target)
        html_mode = target.integration.settings.get("format") == "html"
        name = f"{post.slug}.{'html' if html_mode else 'md'}"
        path = _inside(folder, name)
        if path.exists():
            stamp = _digest(path.read_bytes())
            if known.remote_modified is not None and stamp != known.remote_modified:
                raise DestinationFailure(
                    "remote_edited", f"{name} changed since our last write", permanent=True
                )
        folder.mkdir(parents=True, exist_ok=True)
        addresses: dict[str, str] = {}
        image_names = []
        for n, image in enumerate(post.images):
            suffix = Path(image.filename).suffix or ".png"
            image_name = f"{post.slug}-{image.kind}-{n}{suffix}"
            _write(_inside(folder, image_name), image.data)
            addresses[image.url] = image_name
            image_names.append({"file": image_name, "alt": image.alt, "kind": image.kind})
        inline = [(i.url, i.alt) for i in post.images if i.kind != "featured"]
        body = repoint(place_images(post.html, inline), addresses)
        front = {
            "title": post.title,
            "slug": post.slug,
            "date": (post.publish_at.isoformat() if post.publish_at else None),
            "status": post.status,
            "tags": list(post.tags),
            "categories": list(post.categories),
            "description": post.seo_description,
            "seo_title": post.seo_title,
            "images": image_names,
        }
        header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
        if html_mode:
            text = f"<!--\n{header}-->\n{body}\n"
        else:
            markdown = markdownify(body, heading_style="ATX", bullets="-").strip()
            text = f"---\n{header}---\n\n{markdown}\n"
        data = text.encode()
        _write(path, data)
        return RemotePost(remote_id=name, url=str(path), modified=_digest(data))

    async def unpublish(self, target: Target, remote_id: str) -> RemotePost | None:
        path = _inside(self.folder(target), remote_id)
        path.unlink(missing_ok=True)
        return None


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if path.parent != folder:
        raise DestinationFailure("invalid_settings", f"{name!r} escapes the folder", permanent=True)
    return path


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".igny8-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
