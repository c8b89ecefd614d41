"""Shopify Admin GraphQL destination: `articleCreate` / `articleUpdate` into the configured blog.

The handle is the publication's slug; an unknown create outcome is resolved with
`blog.articleByHandle` first; `updatedAt` after our last write guards the customer's edits.
`userErrors` become typed permanent failures; throttling is waited out by the shared client
(`extensions.cost.throttleStatus`) and 5xx answers are retried by the publisher."""

from __future__ import annotations

from typing import Any

from igny8.net import GuardedHttp
from igny8.platforms import PlatformFailure, ShopifyClient
from publishing.adapters.platform_errors import from_platform
from publishing.domain.errors import DestinationFailure
from publishing.ports import Hooks, Known, Post, RemotePost, Target

ARTICLE_FIELDS = "id handle updatedAt blog { handle }"
FIRST_BLOG = "{ blogs(first: 1) { nodes { id } } }"
BY_HANDLE = (
    "query($blog: ID!, $handle: String!) { blog(id: $blog) { articleByHandle(handle: $handle) "
    "{ id title handle updatedAt blog { handle } } } }"
)
READ = f"query($id: ID!) {{ article(id: $id) {{ {ARTICLE_FIELDS} }} }}"
CREATE = (
    "mutation($article: ArticleCreateInput!) { articleCreate(article: $article) { "
    f"article {{ {ARTICLE_FIELDS} }} userErrors {{ code field message }} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $article: ArticleUpdateInput!) { articleUpdate(id: $id, article: $article)"
    f" {{ article {{ {ARTICLE_FIELDS} }} userErrors {{ code field message }} }} }}"
)
UNPUBLISH = (
    "mutation($id: ID!) { articleUpdate(id: $id, article: {isPublished: false}) { "
    f"article {{ {ARTICLE_FIELDS} }} userErrors {{ code field message }} }} }}"
)


class ShopifyDestination:
    def __init__(self, http: GuardedHttp, max_throttle_waits: int = 5) -> None:
        self._client = ShopifyClient(http, max_throttle_waits)

    async def _graphql(
        self, target: Target, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        token = target.credentials.get("access_token", "")
        if not token:
            raise DestinationFailure("bad_credentials", "access_token is required", permanent=True)
        try:
            return await self._client.graphql(target.integration.base_url, token, query, variables)
        except PlatformFailure as failure:
            raise from_platform(failure) from None

    async def publish(self, target: Target, post: Post, known: Known, hooks: Hooks) -> RemotePost:
        base = target.integration.base_url.rstrip("/")
        blog = str(target.integration.settings.get("blog_id") or "") or await self._first_blog(
            target
        )
        remote_id, remote_modified = known.remote_id, known.remote_modified
        if remote_id is None and known.outcome_unknown:
            data = await self._graphql(target, BY_HANDLE, {"blog": blog, "handle": post.slug})
            found = (data.get("blog") or {}).get("articleByHandle")
            if found and found.get("title") in (None, post.title):
                remote_id, remote_modified = found["id"], None
                await hooks.created(_remote(base, found))
        article = _article(post, target)
        if remote_id is not None:
            current = (await self._graphql(target, READ, {"id": remote_id})).get("article")
            if current is None:
                raise DestinationFailure(
                    "not_found", f"article {remote_id} is gone", permanent=True
                )
            if remote_modified is not None and current.get("updatedAt") != remote_modified:
                raise DestinationFailure(
                    "remote_edited",
                    f"article {remote_id} was edited in Shopify after our last write; "
                    "not overwritten",
                    permanent=True,
                )
            data = await self._graphql(target, UPDATE, {"id": remote_id, "article": article})
            return _remote(base, _result(data, "articleUpdate"))
        await hooks.before_create()
        data = await self._graphql(target, CREATE, {"article": {**article, "blogId": blog}})
        created = _remote(base, _result(data, "articleCreate"))
        await hooks.created(created)
        return created

    async def unpublish(self, target: Target, remote_id: str) -> RemotePost | None:
        data = await self._graphql(target, UNPUBLISH, {"id": remote_id})
        return _remote(target.integration.base_url.rstrip("/"), _result(data, "articleUpdate"))

    async def _first_blog(self, target: Target) -> str:
        nodes = ((await self._graphql(target, FIRST_BLOG, {})).get("blogs") or {}).get(
            "nodes"
        ) or []
        if not nodes:
            raise DestinationFailure("invalid_settings", "the shop has no blog", permanent=True)
        return str(nodes[0]["id"])


def _article(post: Post, target: Target) -> dict[str, Any]:
    article: dict[str, Any] = {
        "title": post.title,
        "handle": post.slug,
        "body": post.html,
        "summary": post.seo_description,
        "tags": list(post.tags),
        "author": {"name": str(target.integration.settings.get("author") or "IGNY8")},
        "isPublished": post.status == "publish",
        "metafields": [
            {
                "namespace": "global",
                "key": "title_tag",
                "type": "single_line_text_field",
                "value": post.seo_title,
            },
            {
                "namespace": "global",
                "key": "description_tag",
                "type": "single_line_text_field",
                "value": post.seo_description,
            },
        ],
    }
    if post.status == "future" and post.publish_at is not None:
        article["publishDate"] = post.publish_at.isoformat()
    featured = next((i for i in post.images if i.kind == "featured"), None)
    if featured is not None:  # Shopify fetches the image itself: the URL must be reachable by it
        article["image"] = {"url": featured.url, "altText": featured.alt}
    return article


def _result(data: dict[str, Any], field: str, need: bool = True) -> dict[str, Any]:
    payload = data.get(field) or {}
    errors = payload.get("userErrors") or []
    if errors:
        first = errors[0]
        raise DestinationFailure(
            f"user_error:{(first.get('code') or 'invalid').lower()}",
            "; ".join(f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors)[
                :500
            ],
            permanent=True,
        )
    article = payload.get("article")
    if need and not article:
        raise DestinationFailure("unexpected_response", f"{field} returned no article")
    return dict(article or {})


def _remote(base: str, article: dict[str, Any]) -> RemotePost:
    blog = (article.get("blog") or {}).get("handle", "")
    return RemotePost(
        str(article["id"]),
        f"{base}/blogs/{blog}/{article.get('handle', '')}",
        article.get("updatedAt"),
    )
