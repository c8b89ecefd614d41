"""Article HTML: where an inline image goes."""

from __future__ import annotations

import html as html_lib
import re

_H2_END = re.compile(r"</h2\s*>", re.IGNORECASE)


def with_inline_image(article: str, position: int, url: str, alt: str) -> str:
    """Inline image N right after the N-th H2 heading (after the last one when the article has
    fewer); an image already in place is not inserted twice."""
    if f'src="{html_lib.escape(url)}"' in article:
        return article
    figure = (
        f'<figure class="igny8-inline-image"><img src="{html_lib.escape(url)}" '
        f'alt="{html_lib.escape(alt)}" loading="lazy"></figure>'
    )
    ends = list(_H2_END.finditer(article))
    if not ends:
        return article + figure
    at = ends[min(position, len(ends)) - 1].end()
    return article[:at] + figure + article[at:]
