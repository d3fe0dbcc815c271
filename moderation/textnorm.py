"""Unicode normalisation shared by the rules and the features: fold what spammers use to hide."""

from __future__ import annotations

import re
import unicodedata

# Zero-width, bidi controls, soft hyphen, word joiner, BOM, Mongolian vowel separator and the
# invisible tag/variation selectors: none changes how a word reads, all break naive matching.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)

# The Cyrillic and Greek letters that look exactly like Latin ones; NFKC keeps them apart, so a
# banned "viagra" written with a Cyrillic "а" would otherwise slip through.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ӏ": "l",
        "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
        "ε": "e", "χ": "x",
    }
)  # fmt: skip


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control and other invisible formatting characters."""
    # None of them is ASCII: most comments are then returned after one quick pass in C.
    return text if text.isascii() else _INVISIBLE.sub("", text)


def fold(text: str) -> str:
    """NFKC, invisible characters removed, case-folded: the form text is compared in."""
    return unicodedata.normalize("NFKC", strip_invisible(text)).casefold()


def skeleton(text: str) -> str:
    """`fold` plus Latin look-alikes mapped to Latin, for matching word lists."""
    return fold(text).translate(_CONFUSABLES)
