"""Turn a comment into the classifier's input: one document shared by training and serving."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from moderation.links import link_domains, url_domain
from moderation.textnorm import strip_invisible

# Each marker is a token the word vectorizer keeps whole, so that "the author URL is on
# cheap-pills.ru" is one learnable feature apart from the words of the text.
_NAME = "authorname"
_URL = "authorurl"
_DOMAIN = "linkdomain"
_NO_URL = "authornourl"
_MAX_CONTENT_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class TextInput:
    """The fields of a comment that the classifier reads."""

    content: str
    author_name: str = ""
    author_url: str = ""


# The same few domains come back in comment after comment. A host can be kilobytes long:
# the cache stays small.
@lru_cache(maxsize=1024)
def _slug(value: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", value.lower()).strip("_")


def document(item: TextInput) -> str:
    """The single text the vectorizers read: the content, then tagged author and link facts."""
    # Spam's signal is in its first paragraphs; capping bounds the cost of a 64 kB comment.
    content = strip_invisible(item.content[:_MAX_CONTENT_CHARS])
    # str.split and the regular expressions' \s agree on what whitespace is; splitting and
    # joining costs a tenth of substituting every single space.
    parts = [" ".join(content.split())]
    name = " ".join(strip_invisible(item.author_name).split())
    if name:
        parts.append(f"{_NAME} {name}")
    domains = link_domains(content, item.author_url) if (content or item.author_url) else []
    if item.author_url.strip():
        domain = url_domain(item.author_url)
        parts.append(_URL if domain is None else f"{_URL}_{_slug(domain)}")
    else:
        parts.append(_NO_URL)
    if domains:
        parts.append(" ".join(f"{_DOMAIN}_{_slug(d)}" for d in domains))
    return "\n".join(parts)
