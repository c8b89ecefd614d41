"""Where an article's inline images go and how their addresses change on a destination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import lxml.html

from publishing.domain.linker import serialize
from publishing.domain.text import parse_fragment


def place_images(html: str, inline: Sequence[tuple[str, str]]) -> str:
    """Inline images (src, alt) that the HTML does not show yet go before the second, third, …
    H2 (one per section), the rest at the end, each as `<figure><img></figure>`."""
    root = parse_fragment(html)
    shown = {str(img.get("src") or "") for img in root.iter("img")}
    pending = [(src, alt) for src, alt in inline if src not in shown]
    sections = [h for h in root.iter("h2") if h.getparent() is root][1:]
    for heading in sections:
        if not pending:
            break
        src, alt = pending.pop(0)
        heading.addprevious(_figure(src, alt))
    for src, alt in pending:
        root.append(_figure(src, alt))
    return serialize(root)


def repoint(
    html: str, addresses: Mapping[str, str], attributes: Mapping[str, str] | None = None
) -> str:
    """Every `<img src>` found in `addresses` points to its new address (the uploaded copy);
    `attributes` maps an old src to a class to add (WordPress's `wp-image-<id>`)."""
    root = parse_fragment(html)
    for img in root.iter("img"):
        src = str(img.get("src") or "")
        if src in addresses:
            img.set("src", addresses[src])
            extra = (attributes or {}).get(src)
            if extra:
                img.set("class", " ".join(filter(None, [img.get("class"), extra])))
    return serialize(root)


def _figure(src: str, alt: str) -> object:
    figure = lxml.html.Element("figure")
    figure.append(lxml.html.Element("img", {"src": src, "alt": alt}))
    return figure
