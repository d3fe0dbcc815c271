"""Find the links in a comment and normalise their domains: pure functions, no I/O.

Decisions, and the trade-offs they buy:

* The text is de-obfuscated before it is scanned, and a link's ``url`` is taken from that
  de-obfuscated text: HTML entities decoded, NFKC applied (fullwidth letters and dots, one-dot
  leaders, mathematical letters...), ideographic full stops read as dots, zero-width, soft-hyphen
  and bidi-control characters removed, ``hxxp://`` and ``http[:]//`` re-armed, ``[.]`` ``(.)``
  ``{.}`` ``[dot]`` ``(dot)`` ``{dot}`` ``<dot>`` read as a dot when glued to both words.
* A URL with a scheme (http, https, ftp) is a link whatever its host; a ``www.`` host is a link
  with any alphabetic top-level label; so is the target of an HTML ``href``, a BBCode ``[url]``
  or a Markdown ``[text](target)``, even without a scheme, because the markup says it is a link.
  Relative targets, ``mailto:``, ``javascript:`` and ``tel:`` are not web links.
* A bare domain (``cheap-pills.ru``) must end in a TLD of the compact list below: every country
  code plus the generic and new TLDs that comments and spam use. TLDs that are seldom domains
  but often code or prose are left out on purpose (``.name``: ``user.name``; ``.ltd``:
  ``Co.Ltd``; ``.bar``: ``foo.bar``; ``.one``, ``.love``, ``.run``). ``xn--`` TLDs are always
  accepted: nobody types one by accident. A trailing label that is not a TLD is dropped
  (``example.com.Next`` gives ``example.com``).
* Country codes that in comments are mostly file extensions (``setup.py``, ``README.md``,
  ``main.rs``, ``install.sh``, ``libc.so``, ``doc.ps``, ``main.cc``, ``a.zip``, ``clip.mov``)
  make a bare domain only with a path after it (``tiny.cc/x``) or when the host is a known URL
  shortener (``is.gd``). ``.ai``, ``.io``, ``.me``, ``.co``, ``.in``, ``.pl``, ``.id`` stay plain
  TLDs: they carry far more links than file names, so ``photo.ai``, ``Makefile.in`` and
  ``user.id`` are (accepted) false positives.
* A sentence missing its space is not a link: a bare domain whose TLD is capitalised (``end.It``,
  ``Yes.It``, hence also ``Example.Com``) is rejected; ``EXAMPLE.COM`` and ``Example.com`` pass.
  Nor is a bare domain with ``_`` in a label, one followed by ``(`` (a method call) or ``@`` (an
  email address), or one that continues a word, a host, a path or an email address (preceded by
  a letter, ``.``, ``/``, ``\\`` or ``@``). Bare IP addresses are not links (versions look the
  same); after a scheme they are.
* Spelled-out and spaced dots (``example dot com``, ``example . com``) need the last label to be
  a TLD; ``dot`` and a one-sided space (``example .com``, ``example. com``) need one of a short
  list of TLDs that are not English words (``.com``, ``.ru``...), in lower case unless spelled
  with ``dot``, and a first word such as "the" or "a" is never a domain (``the dot com bubble``).
* Chinese, Japanese and Korean run words together: a CJK run glued before an ASCII host and one
  glued after an ASCII label are cut off (``访问example.com获取`` gives ``example.com``), and a
  scheme may follow a non-ASCII letter directly (``请看http://...``).
* A host inside another URL's path or query (``?u=other.com``) is part of that link, not a link
  of its own. Links are deduplicated by ``url``, so ``a.com`` and ``http://a.com`` are two links.
* Domains are lower-case ASCII: UTS-46 mapping and IDNA 2008 through ``idna``, label by label; a
  label IDNA rejects (emoji, ``_``, a bad ``xn--``) falls back to its lower-cased or plain
  Punycode form instead of raising. A ``www.`` prefix is kept: ``domain_matches`` treats it as a
  subdomain.
* Every regex is linear: it starts with a literal or a character class that C code can skip
  on, and all its repetitions are bounded or possessive. All are in ``PATTERNS`` for the tests
  to time on adversarial input. IDN labels are the slow part (about 0.1 ms each, cached).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import idna

from moderation.tlds import COUNTRY_CODES

__all__ = [
    "PATTERNS",
    "SHORTENERS",
    "Link",
    "domain_matches",
    "extract_links",
    "is_shortener",
    "link_domains",
    "normalise_domain",
    "url_domain",
]


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a comment: the URL as written (de-obfuscated) and its normalised domain."""

    url: str
    domain: str


# --- Top-level domains ------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    # Word lists read and diff better as prose than as lists of quoted strings.
    return text.split()


_COUNTRY_TLDS = sorted(COUNTRY_CODES)

_GENERIC_TLDS = _words(
    """
com net org info biz edu gov mil int mobi pro asia cat coop jobs tel travel aero museum xxx
xyz top online site club shop store icu buzz fun space website live life world today click link
loan loans win bid stream download review racing party date men work vip cam casino bet poker
sex porn adult sexy dating webcam tech app dev blog cloud digital email guru host best cyou rest
monster quest sbs cfd bond autos boats homes lat beauty hair skin makeup lol pics ink news media
network systems solutions services agency company group center studio design photography photos
pictures games tube video music events social support help tips guide deals discount sale
shopping market money cash credit finance insurance trade health clinic care dental pharmacy diet
fitness cars auto global zone rocks ninja wtf art city gold jewelry watch fashion shoes bio eco
software academy london nyc berlin paris tokyo moscow
"""
)

# Internationalised TLDs as written; their xn-- forms are derived below, and any other xn-- TLD
# is accepted anyway.
_IDN_TLDS = _words(
    "рф рус онлайн сайт орг ком укр бел срб қаз мкд мон дети москва 中国 中國 公司 网络 在线 "
    "网址 商城 网店 中文网 香港 台灣 台湾 新加坡 한국 닷컴 닷넷 ελ ευ भारत ไทย ישראל مصر "
    "السعودية امارات ایران"
)


def _ascii_forms(labels: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for label in labels:
        try:
            forms.add(idna.encode(label, uts46=True).decode("ascii"))
        except idna.IDNAError:  # pragma: no cover - the list above is all valid
            continue
    return forms


_TLDS: frozenset[str] = frozenset(
    [*_COUNTRY_TLDS, *_GENERIC_TLDS, *_IDN_TLDS, *_ascii_forms(_IDN_TLDS)]
)

# Only these may end a spelled-out ("dot com") or one-sidedly spaced domain: none is an English
# word, so "connect the dot to dot" or "so. me too" stay prose.
_SPELLED_TLDS = frozenset(
    _words(
        """
    com net org info biz edu gov ru su ua kz uk de fr nl pl cz cn jp br eu ca au es ch se io co
    xyz top online site club shop store icu tk ml ga cf gq pw cc tv
    """
    )
)

# First words of a spelled-out chain that make it prose: "the dot com era", "a dot net job".
_SPELLED_STOPWORDS = frozenset(
    _words(
        """
    a an the this that these those my your our their his her its one no any each every some per
    and or but of to in on at by for with
    """
    )
)

# Country codes that, in a comment, are mostly a file's extension.
_FILE_EXTENSION_TLDS = frozenset(_words("py md rs sh so ps cc zip mov"))

# General-purpose shorteners, which hide where a link goes. Brand short domains (youtu.be,
# amzn.to) are left out: they always lead to their brand, and readers post them all the time.
SHORTENERS: frozenset[str] = frozenset(
    _words(
        """
    bit.ly bitly.com bit.do j.mp tinyurl.com tiny.cc tiny.one t.co goo.gl ow.ly is.gd v.gd buff.ly
    cutt.ly rebrand.ly shorturl.at rb.gy s.id t.ly lnkd.in clck.ru qps.ru u.to dlvr.it soo.gd
    shorte.st sh.st adf.ly bc.vc ouo.io ouo.press shrtco.de tr.im x.co po.st mcaf.ee db.tt qr.ae
    cur.lv ity.im q.gs cli.gs bl.ink snip.ly t2m.io u.nu surl.li kutt.it gg.gg urlz.fr vk.cc
    goo.su short.io lstu.fr shorturl.com tinyurl.ru
    """
    )
)


# --- Patterns ---------------------------------------------------------------------------------
#
# Python's re tries a pattern at every position unless the pattern starts with a literal or a
# character class, in which case C code skips the positions that cannot start a match. So every
# pattern here starts with one (no IGNORECASE: case is spelled out, since a cased first character
# disables the skip), and the patterns that need a word boundary consume the character before the
# word instead of looking behind: long runs of letters, dots or "http://" are then skipped in C.
# Repetitions are bounded or possessive, so each attempt is short and never backtracks.

# Python's \w misses combining marks, which Indic, Thai and Hebrew/Arabic words need inside a
# label; these ranges put them back.
_W = (
    r"\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    r"\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
)
# What may come right before a bare domain: anything but a word character (the domain would be
# the end of a word), a dot (of a longer host), a slash or backslash (of a path) or "@".
# Spelled positively, as white space, ASCII and Unicode punctuation and symbols and emoji:
# testing \w on every character of the text is what makes the negated class slow.
_BOUNDARY = (
    r"[\x00-\x2c\x3a-\x3f\x5b\x5d\x5e\x60\x7b-\xbf\xd7\xf7\u2000-\u2bff\u2e00-\u2e7f"
    r"\u3000-\u3004\u3008-\u3020\u3030\ufe10-\ufe6f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40"
    r"\uff5b-\uff65\U0001f000-\U0001faff]"
)
# A DNS label is at most 63 characters; the bound also keeps every attempt short.
_LABEL = "[" + _W + "-]{1,63}+"
_PATH_CHARS = r"[^\s\"'<>\[\]{}|\\^`]"

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e0fff]"
)

_DEFANGED_SCHEME = re.compile(
    r"[hH](?<![A-Za-z0-9_][hH])"
    r"(?:[xX][xX][pP](?P<s1>[sS]?)(?:\[:\]|:)|[tT][tT][pP](?P<s2>[sS]?)\[:\])//"
)

_DOT = r"[ \t]{0,3}+(?:\.|[dD][oO][tT])[ \t]{0,3}+"
_BRACKETED_DOT = re.compile(
    r"\[" + _DOT + r"\]|\(" + _DOT + r"\)|\{" + _DOT + r"\}|<[ \t]{0,3}+[dD][oO][tT][ \t]{0,3}+>"
)

# A unit is a host or a part of one; dots inside are checked in Python, which keeps this a
# single fast repeat. A unit may swallow the dot of "example. com": the separator then only
# needs the spaces after it.
_UNIT = "[" + _W + "-][" + _W + ".-]{0,300}+"
_SPELLED_SEP = r"(?:[ \t]{1,3}+(?:\.[ \t]{0,3}+|[dD][oO][tT][ \t]{1,3}+)|(?<=\.)[ \t]{1,3}+)"
# Spelled-out domains live in prose: after a space, a quote, an opening bracket or a colon. The
# narrow class keeps the attempts few on text full of other punctuation ("[url=[url=...").
_SPELLED_CHAIN = re.compile(
    "(?P<b>[ \t\n\r\f\v\x85\u2028\u2029\"'(<>:,;*\\[{|\u00ab\u00bb\u2018-\u201f\u300c-\u300f])"
    "(?P<chain>" + _UNIT + _SPELLED_SEP + _UNIT + "(?:" + _SPELLED_SEP + _UNIT + "){0,7}+)"
)
# That pattern is tried at every space, and reads the word after it before finding no separator:
# most of a comment's cost. A chain's first separator is rarer: a "." with a space or tab on
# either side, or the word "dot" with them on both sides. Starting at a "." rather than a class,
# the first pattern is skipped to in C; the second is needed only when "dot" is in the text.
_DOT_HINT = re.compile(r"\.(?:(?<=[ \t]\.)|(?=[ \t]))")
_DOT_OR_WORD_HINT = re.compile(
    r"[.dD](?:(?<=[ \t]\.)|(?<=\.)(?=[ \t])|(?<=[ \t][dD])(?=[oO][tT][ \t]))"
)
# Matched on the reversed text from just before such a dot or "dot": the separator's spaces (the
# pattern's first separator takes at most three) and the unit before them, whose start is where
# the chain's boundary character must be. A longer run of word characters cannot be a unit.
_UNIT_BEFORE = re.compile("[ \t]{0,3}+[" + _W + ".-]{1,301}+")

# A URL with a scheme: any host, user info allowed. Starting with the scheme's first letter
# (checked again behind) means only "h" and "f" are ever tried. Only ASCII is ruled out before
# the scheme: Chinese or Japanese text runs straight into it ("请看http://...").
_SCHEME_URL = re.compile(
    r"[hHfF](?<![A-Za-z0-9_.@/\\-][hHfF])(?:(?<=[hH])[tT][tT][pP][sS]?|(?<=[fF])[tT][pP])://"
    r"(?:[^\s/?#@\[\]<>\"'`]{1,256}+@)?+"
    r"(?P<host>\[[0-9a-fA-F:.]{2,45}+\]|" + _LABEL + r"(?:\." + _LABEL + "){0,126}+)"
    "(?![" + _W + "-])"
    # The root's dot of a fully qualified name, when a port or path follows it.
    r"(?:\.(?=[:/?#]))?+"
    r"(?P<port>:\d{1,5}+(?!\w))?+"
    r"(?P<path>[/?#]" + _PATH_CHARS + "*+)?+"
)

# A dotted host without a scheme, after a boundary character; not an email address ("@") nor a
# method call ("(").
_BARE_URL = re.compile(
    _BOUNDARY + "(?P<bare>" + _LABEL + r"(?:\." + _LABEL + "){1,126}+)"
    "(?![" + _W + r"@(-]|\.[" + _W + "-])"
    r"(?P<port>:\d{1,5}+(?!\w))?+"
    r"(?P<path>[/?#]" + _PATH_CHARS + "*+)?+"
)

_HREF = re.compile(
    r"[hH](?<![\w-][hH])[rR][eE][fF][ \t\r\n]{0,16}+=[ \t\r\n]{0,16}+"
    r"(?:\"(?P<dq>[^\"<>]{1,4096}+)|'(?P<sq>[^'<>]{1,4096}+)|(?P<uq>[^\s\"'<>`=]{1,4096}+))"
)

_BBCODE = re.compile(
    r"\[(?:[uU][rR][lL]|[lL][iI][nN][kK]|[iI][uU][rR][lL])"
    r"(?:[ \t]{0,16}+=[ \t]{0,16}+[\"']?+|\][ \t\r\n]{0,16}+)"
    r"(?P<v>[^\s\"'\[\]<>]{1,4096}+)"
)

# One level of balanced parentheses, as in Wikipedia's "Foo_(bar)" pages.
_MARKDOWN = re.compile(
    r"\]\([ \t]{0,16}+<?+"
    r"(?P<v>[^\s()<>\[\]]{1,4096}+(?:\([^\s()<>\[\]]{0,4096}+\)[^\s()<>\[\]]{0,4096}+)?+)"
)

# Each markup pattern with a substring that every match of it holds.
_MARKUP: tuple[tuple[re.Pattern[str], str], ...] = ((_HREF, "="), (_BBCODE, "["), (_MARKDOWN, "]("))

PATTERNS: tuple[re.Pattern[str], ...] = (
    _INVISIBLE,
    _DEFANGED_SCHEME,
    _BRACKETED_DOT,
    _SPELLED_CHAIN,
    _DOT_HINT,
    _DOT_OR_WORD_HINT,
    _UNIT_BEFORE,
    _SCHEME_URL,
    _BARE_URL,
    _HREF,
    _BBCODE,
    _MARKDOWN,
)

# Sentence punctuation that ends a URL in prose far more often than it ends the URL itself.
_TRAILING_PUNCTUATION = ".,;:!?*~'\""


# --- Normalisation ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    """The text as a reader sees it: entities decoded, look-alikes folded, invisibles removed."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
        text = unicodedata.normalize("NFKC", text)
        # NFKC turns fullwidth and small full stops into ".", but leaves the ideographic one.
        text = _INVISIBLE.sub("", text).replace("\u3002", ".")
    return text


def _deobfuscate(text: str) -> str:
    """Undo the usual ways of writing a link so that naive filters miss it.

    The result starts with a space: the patterns consume the character before a link.
    """
    text = " " + text
    # A pattern that needs a character or two the text lacks is not run: a substring test is
    # a fast scan in C, a pattern's scan costs about a microsecond for a short comment.
    if "//" in text:
        text = _DEFANGED_SCHEME.sub(_rearm_scheme, text)
    if "[" in text or "(" in text or "{" in text or "<" in text:
        text = _BRACKETED_DOT.sub(_bracketed_dot, text)
    return _read_spelled_chains(text)


def _read_spelled_chains(text: str) -> str:
    """``_SPELLED_CHAIN.sub(_spelled_chain, text)``, the pattern tried only where a chain can start.

    A chain starts at the boundary character before the unit that ends at its first separator:
    each separator hint gives one such place, in order, so matching at each (skipping those a
    replaced chain covered) finds the chains ``sub`` would, from left to right.
    """
    parts: list[str] = []
    done = 0
    backwards = ""
    # Lower-casing the ASCII letters alone is far cheaper than str.lower() on non-ASCII text.
    # Dropping the other characters may join letters into a "dot" that was not there: that only
    # costs the slower pattern.
    word = b"dot" in text.encode("ascii", "ignore").lower()
    for hint in (_DOT_OR_WORD_HINT if word else _DOT_HINT).finditer(text):
        if not backwards:
            backwards = text[::-1]
        unit = _UNIT_BEFORE.match(backwards, len(text) - hint.start())
        if unit is None:
            continue
        start = len(text) - unit.end() - 1
        match = _SPELLED_CHAIN.match(text, start) if start >= done else None
        if match is not None:
            parts.append(text[done:start])
            parts.append(_spelled_chain(match))
            done = match.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _rearm_scheme(match: re.Match[str]) -> str:
    return "http" + (match.group("s1") or match.group("s2") or "").lower() + "://"


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in "-_"


def _bracketed_dot(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    glued = (
        start > 0
        and end < len(text)
        and _is_word_char(text[start - 1])
        and _is_word_char(text[end])
    )
    # "example[.]com" is unambiguous; "stop (dot) at" could be prose, so a spaced one is handed
    # to the stricter spelled-out rule.
    return "." if glued else " dot "


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and not word.isupper()


def _spelled_chain(match: re.Match[str]) -> str:
    chain = match.group("chain")
    # A full stop after the last unit ends the sentence, not the domain.
    stripped = chain.rstrip(".")
    # Nearly every match is a sentence break ("last year. The"): whatever its separators, a
    # domain's last label is a TLD, and a capitalised one needs the word "dot" ("Example Dot
    # Com"). Checked first, these reject all but about one match in a hundred of prose for a
    # fraction of what reading the separators costs.
    tld = stripped.rsplit(None, 1)[-1].rpartition(".")[2]
    if tld.lower() not in _TLDS or (_capitalised(tld) and "dot" not in chain.lower()):
        return match.group(0)
    chain, tail = stripped, chain[len(stripped) :]
    units: list[str] = []
    kinds: list[str] = []
    # The pattern guarantees the shape: units never hold spaces nor start with a dot, and every
    # separator holds a space or is the word "dot" between spaces.
    for piece in chain.split():
        if piece == ".":
            kinds.append("spaced")
        elif len(units) > len(kinds) and piece.lower() == "dot":
            kinds.append("word")
        else:
            if piece.startswith("."):
                kinds.append("one-sided")
                piece = piece[1:]
            if piece.endswith("."):
                units.append(piece[:-1])
                kinds.append("one-sided")
            else:
                units.append(piece)
    if len(units) != len(kinds) + 1 or not all(all(unit.split(".")) for unit in units):
        return match.group(0)
    tld = units[-1].rpartition(".")[2]
    if units[0].partition(".")[0].lower() in _SPELLED_STOPWORDS:
        ok = False
    elif all(kind == "spaced" for kind in kinds):
        # "example . com": any TLD, but "Yes . It" is two sentences.
        ok = tld.lower() in _TLDS and not _capitalised(tld)
    else:
        ok = tld.lower() in _SPELLED_TLDS and ("word" in kinds or tld.islower())
        if ok and _capitalised(tld):
            # "Example Dot Com" is no sentence break: keep it from the capitalised-TLD rule.
            units[-1] = units[-1][: -len(tld)] + tld.lower()
    return match.group("b") + ".".join(units) + tail if ok else match.group(0)


@lru_cache(maxsize=8192)
def _ascii_label(label: str) -> str:
    """One non-ASCII label in ASCII without raising: IDNA (UTS-46), else raw Punycode."""
    try:
        # Label by label rather than the whole host: one bad label must not lose the others,
        # and the cache then serves the TLD and common labels of every host.
        return idna.encode(label, uts46=True).decode("ascii").lower()
    except ValueError:  # IDNAError is a UnicodeError, itself a ValueError
        pass
    try:
        mapped = idna.uts46_remap(label, std3_rules=False)
    except ValueError:
        mapped = unicodedata.normalize("NFC", label)
    mapped = mapped.lower()
    if mapped.isascii():
        return mapped
    try:
        # What browsers do with a label IDNA2008 disallows (emoji, symbols): plain Punycode.
        return "xn--" + mapped.encode("punycode").decode("ascii").lower()
    except UnicodeError:
        return mapped.encode("ascii", "backslashreplace").decode("ascii").lower()


def _normalise_host(host: str) -> str:
    if host.isascii():
        # For ASCII, UTS-46 only lower-cases, and IDNA's validation would just send an invalid
        # label down the lower-casing fallback: skip the slow library for the common case.
        return host.strip(".").lower()
    labels = (
        label.lower() if label.isascii() else _ascii_label(label)
        for label in host.split(".")
        if label
    )
    # A UTS-46 mapping can yield a dot ("⒈" is "1."): split again, drop empty labels.
    return ".".join(part for label in labels for part in label.split(".") if part)


def _host_part(value: str) -> str:
    """The host of a URL or of a bare domain: no scheme, userinfo, port, path or edge dots."""
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if sep and scheme[:1].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme):
        value = rest
    elif value.startswith("//"):
        value = value[2:]
    end = len(value)
    for stop in "/?#\\ \t\r\n":
        found = value.find(stop)
        if found != -1:
            end = min(end, found)
    value = value[:end].rpartition("@")[2]
    if value.startswith("["):
        close = value.find("]")
        value = value[: close + 1] if close != -1 else value
    else:
        value = value.partition(":")[0]
    return value.strip(".")


def normalise_domain(value: str) -> str:
    """The normalised domain of a host or URL: lower-case ASCII (Punycode), no port or userinfo."""
    return _normalise_host(_host_part(_clean(value)))


# --- Extraction -------------------------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
    )


def _ascii_run(label: str) -> int:
    """Length of the ASCII letters and digits that start a label."""
    index = 0
    while index < len(label) and label[index].isascii() and label[index].isalnum():
        index += 1
    return index


def _is_known_tld(label: str) -> bool:
    lowered = label.lower()
    return lowered in _TLDS or (lowered.startswith("xn--") and len(lowered) > 4)


def _trim_url_end(text: str, start: int, end: int, floor: int) -> int:
    """Drop sentence punctuation and unbalanced closing brackets after a URL."""
    while end > floor:
        char = text[end - 1]
        if char == ")":
            if text.count("(", start, end) >= text.count(")", start, end):
                break
        elif char not in _TRAILING_PUNCTUATION and (
            char.isascii() or not unicodedata.category(char).startswith("P")
        ):
            break
        end -= 1
    return end


def _candidate(text: str, match: re.Match[str], lenient: bool) -> tuple[int, str, str] | None:
    """(position, url, domain) for a match of a URL pattern, or None when it is not a link.

    `lenient` is for markup targets and author URLs, which are links by construction: a bare
    host there needs only a plausible TLD, not a known one.
    """
    path = match.group("path")
    end = match.end()
    bare: str | None = None
    if match.re is _SCHEME_URL:
        host = match.group("host")
        start = match.start()
        host_start = match.start("host")
    else:
        bare = match.group("bare")
        host = bare
        start = host_start = match.start("bare")
        if host[0] in "_-" or host[-1] in "_-":
            # "_example.com_" is Markdown emphasis around a domain.
            stripped = host.lstrip("_-")
            start = host_start = host_start + len(host) - len(stripped)
            host = stripped.rstrip("_-")
            end = host_start + len(host)
    host_end = host_start + len(host)
    labels = host.split(".")
    if not all(labels):
        return None

    if not host.isascii():
        # CJK text has no spaces: "example.com获取更多" ends at "com", and "访问example.com" starts
        # at "example".
        for index in range(1, len(labels)):
            label = labels[index]
            keep = _ascii_run(label)
            if keep and keep < len(label) and _is_cjk(label[keep]):
                labels = [*labels[:index], label[:keep]]
                host_end = host_start + len(".".join(labels))
                end = host_end
                break
        first = labels[0]
        if bare is not None and labels[-1].isascii() and not first.isascii():
            cut = max((i for i, c in enumerate(first) if _is_cjk(c)), default=-1) + 1
            if 0 < cut < len(first) and first[cut:].isascii():
                labels[0] = first[cut:]
                start = host_start = host_start + cut

    if bare is not None:
        kept = _bare_host(labels, lenient)
        if kept is None:
            return None
        count, www = kept
        if count < len(labels):
            # "example.com.Next": the link ends at the TLD.
            labels = labels[:count]
            host_end = host_start + len(".".join(labels))
            end = host_end
        has_path = path is not None and end > host_end
        if not (lenient or www or _bare_domain_plausible(labels, has_path)):
            return None
    elif not host.strip("-_.[]:"):
        return None
    if end > host_end:
        end = _trim_url_end(text, start, end, host_end)
    domain = _normalise_host(".".join(labels))
    if not domain:
        return None
    return start, text[start:end], domain


def _bare_host(labels: list[str], lenient: bool) -> tuple[int, bool] | None:
    """How many labels form the host (the rest was a typo after it) and whether it is www."""
    head = labels[0].lower()
    www = head == "www" or (head.startswith("www") and head[3:].isdigit())
    for index in range(len(labels) - 1, 1 if www else 0, -1):
        if _is_known_tld(labels[index]):
            return index + 1, www
    last = labels[-1]
    if (www or lenient) and len(labels) >= (3 if www else 2) and len(last) >= 2 and last.isalpha():
        return len(labels), www
    return None


def _bare_domain_plausible(labels: list[str], has_path: bool) -> bool:
    """Strict checks for a bare domain in prose: not a file name, not a missing space."""
    tld = labels[-1]
    if _capitalised(tld):
        return False  # "end.It was", "Yes.It is": a sentence without its space
    for label in labels:
        if "_" in label or label[0] == "-" or label[-1] == "-":
            return False
    return not (
        not has_path
        and tld.lower() in _FILE_EXTENSION_TLDS
        and not is_shortener(".".join(labels).lower())
    )


def _markup_candidate(value: str, position: int) -> tuple[int, str, str] | None:
    """A link for a markup target (href, [url], Markdown) or author URL, maybe without scheme."""
    stripped = value.lstrip()
    position += len(value) - len(stripped)
    value = stripped
    prefix = ""
    if value.startswith("//"):
        prefix, value = "//", value[2:]
        position += 2
    elif value[:1] in "/#?." or _has_other_scheme(value):
        return None
    match = None if prefix else _SCHEME_URL.match(value)
    if match is None:
        if "@" in value.partition("/")[0]:
            return None  # an email address, not a link
        # The pattern wants the character before the host.
        value = " " + value
        position -= 1
        match = _BARE_URL.match(value)
        if match is None:
            return None
    found = _candidate(value, match, True)
    if found is None:
        return None
    offset, url, domain = found
    return position + offset - len(prefix), prefix + url, domain


def _has_other_scheme(value: str) -> bool:
    # mailto:, javascript:, tel: are not web links; a colon before a digit is a port
    # ("localhost:8000"), not a scheme.
    scheme, sep, rest = value.partition(":")
    if not sep or not scheme[:1].isalpha() or rest[:1].isdigit():
        return False
    if not all(c.isascii() and (c.isalnum() or c in "+.-") for c in scheme):
        return False
    return scheme.lower() not in ("http", "https", "ftp")


def _match_start(match: re.Match[str]) -> int:
    return match.start() if match.re is _SCHEME_URL else match.start("bare")


def extract_links(text: str) -> list[Link]:
    """Every distinct link in a comment, in order of first appearance."""
    return list(_extract(text))


# The rules ask for the links of one comment several times (count, banned domains, shorteners),
# and the classifier's features once more: a batch of checks (up to 128 comments, scored
# together, then judged one by one) finds each comment's links here the second time. Twice the
# batch: the empty text an author URL is looked up with takes an entry too, and an LRU cache
# one entry short of a batch misses on every comment of its second pass.
@lru_cache(maxsize=256)
def _extract(text: str) -> tuple[Link, ...]:
    text = _deobfuscate(_clean(text))
    found: list[tuple[int, str, str]] = []
    # The same link is often repeated: judge each distinct match text once.
    seen: dict[str, tuple[int, str, str] | None] = {}
    # Two patterns, one scan: a host inside a URL's path ("?u=b.com") is not a link of its own,
    # so matches overlapping an earlier one are dropped, as a single alternation would.
    # As in _deobfuscate, a pattern is run only where it can match.
    matches = (
        sorted([*_SCHEME_URL.finditer(text), *_BARE_URL.finditer(text)], key=_match_start)
        if "://" in text
        else list(_BARE_URL.finditer(text))
    )
    covered = 0
    for match in matches:
        if _match_start(match) < covered:
            continue
        covered = match.end()
        key = match.group(0)
        if key in seen:
            known = seen[key]
            if known is not None:
                found.append((match.start() + known[0], known[1], known[2]))
            continue
        candidate = _candidate(text, match, False)
        if candidate is None:
            seen[key] = None
        else:
            seen[key] = (candidate[0] - match.start(), candidate[1], candidate[2])
            found.append(candidate)
    for pattern, needed in _MARKUP:
        for match in pattern.finditer(text) if needed in text else ():
            group = match.lastgroup
            if group is not None:
                candidate = _markup_candidate(match.group(group), match.start(group))
                if candidate is not None:
                    found.append(candidate)
    found.sort(key=lambda item: item[0])
    links: dict[str, Link] = {}
    for _, url, domain in found:
        if url not in links:
            links[url] = Link(url, domain)
    return tuple(links.values())


def link_domains(text: str, *extra_urls: str) -> list[str]:
    """The distinct domains linked from a text and from extra URLs (author URL, email domain)."""
    domains = dict.fromkeys(link.domain for link in _extract(text))
    for url in extra_urls:
        domain = url_domain(url)
        if domain is not None:
            domains.setdefault(domain)
    return list(domains)


# A comment's author URL is asked for by the features and by several rules, each time through
# the same normalising steps (about 7 µs); regular commenters come back with the same one.
@lru_cache(maxsize=1024)
def url_domain(url: str) -> str | None:
    """The normalised domain of a URL given as a link (an author URL), or None if it is none."""
    candidate = _markup_candidate(_deobfuscate(_clean(url)).strip(), 0)
    return None if candidate is None else candidate[2]


@lru_cache(maxsize=65536)
def _normalise_entry(entry: str) -> str:
    return normalise_domain(_clean(entry).strip().lstrip("*."))


def domain_matches(domain: str, listed: Iterable[str]) -> str | None:
    """The first entry of `listed` that `domain` equals or is a subdomain of, else None."""
    normal = normalise_domain(domain)
    if not normal:
        return None
    for entry in listed:
        wanted = _normalise_entry(entry)
        if wanted and (normal == wanted or normal.endswith("." + wanted)):
            return entry
    return None


# Asked for every linked domain of every comment; the same few domains come back all day.
@lru_cache(maxsize=4096)
def is_shortener(domain: str) -> bool:
    """Whether a domain (or one of its parents) is a known URL shortener."""
    labels = normalise_domain(domain).split(".")
    return any(".".join(labels[i:]) in SHORTENERS for i in range(len(labels) - 1))
