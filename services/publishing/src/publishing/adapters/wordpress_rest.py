"""WordPress REST destination (application passwords), over the SSRF-guarded client.

Never a duplicate: the slug is the publication's; the remote id is handed to `hooks.created` the
moment a create returns; when an earlier create's outcome is unknown the post is looked up by
slug (`status=any&context=edit`) first. Never a clobber: before an update the post is fetched and
its `modified_gmt` compared with the one our last write returned."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Iterable
from pathlib import PurePosixPath
from typing import Any, TypeVar

import httpx

from igny8.net import GuardedHttp
from igny8.platforms import PlatformFailure, WordPressClient
from igny8.platforms.base import call
from publishing.adapters.platform_errors import check, from_platform
from publishing.domain.errors import DestinationFailure
from publishing.domain.media import place_images, repoint
from publishing.ports import Hooks, ImageFile, Known, Post, RemotePost, Target

DISCOVERY_TTL_S = 300.0
TERM_TTL_S = 300.0
T = TypeVar("T")


class WordPressDestination:
    def __init__(self, http: GuardedHttp) -> None:
        self._http = http
        self._client = WordPressClient(http)
        # REST root and namespaces per site, for a few minutes: each lookup is a full WordPress
        # page render, and a site's API root does not move between two articles.
        self._discovered: dict[str, tuple[float, str, list[str]]] = {}
        # Term ids per site, taxonomy and name, for a few minutes: a site's categories and tags
        # are the same few for many articles, and each get-or-create is a WordPress request. A
        # term deleted meanwhile is noticed in the post's answer (WordPress drops an unknown id
        # silently) and made again (`_keep_terms`).
        self._terms: dict[tuple[str, str, str], tuple[float, int]] = {}

    async def publish(self, target: Target, post: Post, known: Known, hooks: Hooks) -> RemotePost:
        try:
            return await self._publish(target, post, known, hooks)
        except PlatformFailure as failure:
            raise from_platform(failure) from None

    async def unpublish(self, target: Target, remote_id: str) -> RemotePost | None:
        try:
            site = await self._site(target)
            answer = await site.send("POST", f"wp/v2/posts/{remote_id}", json={"status": "draft"})
            check(answer, "unpublish")
            return _remote(answer.json())
        except PlatformFailure as failure:
            raise from_platform(failure) from None

    async def _site(self, target: Target) -> _Site:
        base = target.integration.base_url.rstrip("/")
        auth = _basic(target.credentials)
        known = self._discovered.get(base)
        if known is not None and time.monotonic() - known[0] < DISCOVERY_TTL_S:
            return _Site(self._http, known[1], auth, known[2])
        root = await self._client.discover(base)
        site = _Site(self._http, root, auth)
        namespaces = await site.namespaces()
        self._discovered[base] = (time.monotonic(), root, namespaces)
        return site

    async def _publish(self, target: Target, post: Post, known: Known, hooks: Hooks) -> RemotePost:
        site = await self._site(target)
        remote_id = known.remote_id
        remote_modified = known.remote_modified
        if remote_id is None and known.outcome_unknown:
            found = await site.find_by_slug(post.slug, post.title)
            if found is not None:
                remote_id, remote_modified = str(found["id"]), None
                await hooks.created(_remote(found))
        if remote_id is not None:
            current = await site.send("GET", f"wp/v2/posts/{remote_id}", params={"context": "edit"})
            check(current, "read the post before updating it")
            now_modified = current.json().get("modified_gmt")
            if remote_modified is not None and now_modified != remote_modified:
                raise DestinationFailure(
                    "remote_edited",
                    f"post {remote_id} was edited on the site ({now_modified}) after our last "
                    f"write ({remote_modified}); not overwritten",
                    permanent=True,
                )
        base = target.integration.base_url.rstrip("/")
        body = await self._body(site, base, post, reuse=known.earlier_attempts)
        if remote_id is not None:
            answer = await site.send("POST", f"wp/v2/posts/{remote_id}", json=body)
            check(answer, "update the post")
            return await self._keep_terms(site, base, post, body, answer.json())
        await hooks.before_create()
        answer = await site.send("POST", "wp/v2/posts", json=body)
        check(answer, "create the post")
        created = answer.json()
        await hooks.created(_remote(created))
        return await self._keep_terms(site, base, post, body, created)

    async def _keep_terms(
        self, site: _Site, base: str, post: Post, body: dict[str, Any], written: dict[str, Any]
    ) -> RemotePost:
        """A cached term deleted on the site meanwhile is dropped by WordPress without a word:
        when the post came back without one of the ids sent, the site's cached terms are
        forgotten, made again, and the post updated with them (our own write: its `modified`
        is the one kept)."""
        if all(set(body[k]) <= set(written.get(k) or []) for k in ("categories", "tags")):
            return _remote(written)
        for key in [k for k in self._terms if k[0] == base]:
            del self._terms[key]
        fixed = {
            "categories": await self._term_ids(site, base, "categories", post.categories),
            "tags": await self._term_ids(site, base, "tags", post.tags),
        }
        answer = await site.send("POST", f"wp/v2/posts/{written['id']}", json=fixed)
        check(answer, "set the post's terms again")
        return _remote(answer.json())

    async def _term_ids(
        self, site: _Site, base: str, taxonomy: str, names: Iterable[str]
    ) -> list[int]:
        """Get-or-create each term, from the per-site cache when it is fresh; the others at
        once, side by side."""
        names = list(names)
        now = time.monotonic()
        ids: dict[str, int] = {}
        for name in dict.fromkeys(names):
            cached = self._terms.get((base, taxonomy, name))
            if cached is not None and now - cached[0] < TERM_TTL_S:
                ids[name] = cached[1]
        missing = [n for n in dict.fromkeys(names) if n not in ids]
        if missing:  # expired entries go (every site's), so the cache stays as small as it is fresh
            self._terms = {k: v for k, v in self._terms.items() if now - v[0] < TERM_TTL_S}
        for name, term_id in zip(
            missing, await _together(site.term(taxonomy, n) for n in missing), strict=True
        ):
            self._terms[(base, taxonomy, name)] = (time.monotonic(), term_id)
            ids[name] = term_id
        return [ids[n] for n in names]

    async def _body(self, site: _Site, base: str, post: Post, reuse: bool) -> dict[str, Any]:
        async def media(image: ImageFile) -> dict[str, Any]:
            # A name of this publication's own per image: an attempt after one that may have
            # uploaded it (a failure after the uploads, a takeover, a re-publish) finds the
            # attachment by its slug and reuses it instead of leaving an unused copy behind.
            name = media_name(post.slug, image.url)
            found = await site.find_media(name) if reuse else None
            if found is None:
                suffix = PurePosixPath(image.filename).suffix or ".png"
                return await site.upload(name + suffix, image.content_type, image.data, image.alt)
            if found.get("alt_text") != image.alt:
                await site.describe(int(found["id"]), image.alt)
            return found

        async def uploads() -> list[dict[str, Any]]:
            # The first alone: WordPress makes the month's uploads folder at the first upload,
            # and two uploads racing there fail one with "Unable to create directory" (a 500).
            first = [await media(post.images[0])] if post.images else []
            return first + await _together(media(i) for i in post.images[1:])

        # an article's images are uploaded side by side, and its terms resolved meanwhile
        uploaded, categories, tags = await asyncio.gather(
            uploads(),
            self._term_ids(site, base, "categories", post.categories),
            self._term_ids(site, base, "tags", post.tags),
            return_exceptions=True,
        )
        for outcome in (uploaded, categories, tags):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(uploaded, list)
        addresses: dict[str, str] = {}
        classes: dict[str, str] = {}
        featured: int | None = None
        for image, item in zip(post.images, uploaded, strict=True):
            addresses[image.url] = str(item["source_url"])
            classes[image.url] = f"wp-image-{item['id']}"
            if image.kind == "featured" and featured is None:
                featured = int(item["id"])
        inline = [(i.url, i.alt) for i in post.images if i.kind != "featured"]
        html = repoint(place_images(post.html, inline), addresses, classes)
        body: dict[str, Any] = {
            "title": post.title,
            "content": html,
            "slug": post.slug,
            "status": post.status,
            "excerpt": post.seo_description,
            "categories": categories,
            "tags": tags,
        }
        if featured is not None:
            body["featured_media"] = featured
        if post.status == "future" and post.publish_at is not None:
            body["date_gmt"] = post.publish_at.strftime("%Y-%m-%dT%H:%M:%S")
        if await site.has_namespace("yoast/v1"):
            body["meta"] = {
                "_yoast_wpseo_title": post.seo_title,
                "_yoast_wpseo_metadesc": post.seo_description,
                "_yoast_wpseo_focuskw": post.keyphrase,
            }
        return body


class _Site:
    def __init__(
        self, http: GuardedHttp, root: str, auth: str, namespaces: list[str] | None = None
    ) -> None:
        self._http = http
        self._root = root
        self._auth = auth
        self._namespaces = namespaces

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.pop("params", None)
        url = WordPressClient.route(self._root, path, params)
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        return await call(lambda: self._http.request(method, url, headers=headers, **kwargs))

    async def namespaces(self) -> list[str]:
        if self._namespaces is None:
            answer = await call(lambda: self._http.request("GET", self._root))
            body = answer.json() if answer.is_success else {}
            self._namespaces = list(body.get("namespaces") or []) if isinstance(body, dict) else []
        return self._namespaces

    async def has_namespace(self, namespace: str) -> bool:
        return namespace in await self.namespaces()

    async def find_by_slug(self, slug: str, title: str) -> dict[str, Any] | None:
        answer = await self.send(
            "GET", "wp/v2/posts", params={"slug": slug, "status": "any", "context": "edit"}
        )
        check(answer, "look the post up by slug")
        for post in answer.json():
            raw = (post.get("title") or {}).get("raw")
            if post.get("slug") == slug and (raw is None or raw == title):
                return dict(post)
        return None

    async def find_media(self, name: str) -> dict[str, Any] | None:
        answer = await self.send("GET", "wp/v2/media", params={"slug": name, "context": "edit"})
        check(answer, f"look media {name} up")
        found = [m for m in answer.json() if m.get("slug") == name and m.get("source_url")]
        return dict(found[0]) if found else None

    async def describe(self, media_id: int, alt: str) -> None:
        described = await self.send(
            "POST", f"wp/v2/media/{media_id}", json={"alt_text": alt, "caption": ""}
        )
        check(described, f"set the alt text of media {media_id}")

    async def upload(
        self, filename: str, content_type: str, data: bytes, alt: str
    ) -> dict[str, Any]:
        # the alt text goes with the upload (WordPress reads `alt_text` from the query of a raw
        # upload): one request per image; a separate write only when the answer says the
        # upload did not take it, or brought a caption of the file's own (EXIF/IPTC)
        answer = await self.send(
            "POST",
            "wp/v2/media",
            params={"alt_text": alt},
            content=data,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )
        check(answer, f"upload {filename}")
        media = dict(answer.json())
        if media.get("alt_text") != alt or (media.get("caption") or {}).get("raw"):
            await self.describe(int(media["id"]), alt)
        return media

    async def term(self, taxonomy: str, name: str) -> int:
        """Get-or-create, race-safe: a duplicate create answers `term_exists` with the id."""
        answer = await self.send("POST", f"wp/v2/{taxonomy}", json={"name": name})
        if answer.status_code == 400:
            body = answer.json()
            if body.get("code") == "term_exists":
                return int((body.get("data") or {})["term_id"])
        check(answer, f"create {taxonomy[:-1]} {name!r}")
        return int(answer.json()["id"])


UPLOADS_AT_ONCE = 3
"""Per article: a small host (or its security plugin) answers a burst with 429/503."""


async def _together(calls: Iterable[Awaitable[T]], at_once: int = UPLOADS_AT_ONCE) -> list[T]:
    """Run side by side, at most `at_once` at a time, and wait for all (none left running
    unobserved); the first failure is raised."""
    gate = asyncio.Semaphore(at_once)

    async def gated(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    outcomes = await asyncio.gather(*(gated(c) for c in calls), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return list(outcomes)  # type: ignore[arg-type]


def media_name(post_slug: str, image_url: str) -> str:
    """The attachment's file name (without extension) and so its slug: lower-case letters,
    digits and hyphens, as WordPress keeps them."""
    return f"{post_slug[:150]}-{hashlib.sha256(image_url.encode()).hexdigest()[:10]}"


def _remote(post: dict[str, Any]) -> RemotePost:
    return RemotePost(str(post["id"]), str(post.get("link") or ""), post.get("modified_gmt"))


def _basic(credentials: dict[str, str]) -> str:
    user = credentials.get("username", "")
    password = credentials.get("application_password", "").replace(" ", "")
    if not user or not password:
        raise DestinationFailure(
            "bad_credentials", "username and application_password are required", permanent=True
        )
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
