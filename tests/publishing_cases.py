"""Shared cases for the publishing tests: addresses in every disguise, and hostile markup."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from moderation.policy import SitePolicy
from moderation.redaction import find_emails

# An address in each form the redaction handles (issue 4), each with a local part made of
# "ulla" (or "üllä", or reversed "olrallu"): none of these may reach a page.
EMAIL_FORMS: list[tuple[str, str]] = [
    ("plain", "write to ulla.plain@example.org."),
    ("bracketed", "(ulla.paren@example.org), <ulla.angle@example.org>"),
    ("mailto", "mailto:ulla.mailto@example.org"),
    ("percent-encoded", "ulla.percent%40example.org"),
    ("decimal entity", "ulla.decimal&#64;example.org"),
    ("hex entity", "ulla.hex&#x40;example.org"),
    ("named entity", "ulla.named&commat;example.org"),
    ("spelled", "ulla dot spelled at example dot org"),
    ("[at]", "ulla.square[at]example[dot]org"),
    ("(at)", "ulla.round(at)example(dot)org"),
    ("{at}", "ulla.curly{at}example{dot}org"),
    (" AT ", "ulla.upper AT example DOT org"),
    ("arobase", "ulla.arobase arobase exemple point fr"),
    ("spaced", "ulla.spaced @ example . org"),
    ("fullwidth", "ulla.fullwidth＠example．org"),
    ("zero-width", "ulla.zero\u200bwidth@exa\u200cmple.org"),
    ("soft hyphen", "ulla.soft\u00adhyphen@example.org"),
    ("right-to-left override", "\u202egro.elpmaxe@olrallu\u202c"),
    ("IDN", "ulla.idn@exämple.de"),
    ("punycode", "ulla.puny@xn--exmple-cua.de"),
    ("non-ASCII", "üllä.unicode@例子.中国"),
    ("quoted local part", '"ulla quoted"@example.org'),
    ("broken across a line", "ulla.linebreak@exam-\nple.org"),
]
ADDRESS_MARKERS = ("ulla", "üllä", "olrallu")
EMAILS_TEXT = (
    "Thanks for the meeting notes. You can reach me in any of these ways:\n"
    + "\n".join(f"{name}: {form}" for name, form in EMAIL_FORMS)
    + "\n\nThe agenda is at https://agenda.example/2026/notes (see item 3)."
)

XSS_NAME = '<img src=x onerror="window.__xss=1;alert(1)">Mallory"\'><script>window.__xss=2</script>'
XSS_URL = "javascript:window.__xss=3;alert(3)//https://ok.example"
XSS_TEXT = (
    "<script>window.__xss=4;alert(4)</script>\n"
    '"><svg onload="window.__xss=5;alert(5)">\n'
    '<a href="javascript:window.__xss=6;alert(6)">click</a>\n'
    'https://ok.example/"onmouseover="window.__xss=7\n'
    '</textarea></script><iframe src="javascript:window.__xss=8"></iframe>\n'
    "<math><mtext><img src=x onerror=window.__xss=9></mtext></math>\n"
    "data:text/html,<script>window.__xss=10</script> and &lt;b&gt;escaped&lt;/b&gt;"
)

# A policy under which ordinary comments are approved whatever the classifier thinks of
# addresses and links, so that the tests choose the status through the rules alone: a
# moderation word holds, the honeypot makes spam, a missing email is rejected.
PUBLISHING_POLICY = SitePolicy(
    ham_threshold=0.99,
    spam_threshold=0.995,
    discard_threshold=0.999,
    max_links=100,
    moderation_words=("holdme",),
)


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", {}))


def _parse(markup: str) -> _Parsed:
    parser = _Parsed()
    parser.feed(markup)
    parser.close()
    return parser


def visible_text(markup: str) -> str:
    """The text a browser shows for an HTML fragment."""
    return "".join(_parse(markup).parts)


def elements(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of an HTML fragment: its tag and attributes."""
    return _parse(markup).tags


def unsafe_markup(markup: str) -> list[str]:
    """Anything in safe HTML beyond <p>, <br> and <a href=http(s) rel=…>."""
    problems = []
    for tag, attrs in elements(markup):
        if tag not in ("p", "br", "a"):
            problems.append(f"<{tag}>")
            continue
        allowed = {"href", "rel"} if tag == "a" else set()
        problems += [f"<{tag} {name}>" for name in attrs if name not in allowed]
        href = attrs.get("href")
        if tag == "a" and not (href or "").lower().startswith(("http://", "https://")):
            problems.append(f"<a href={href!r}>")
        if tag == "a" and attrs.get("rel") != "nofollow ugc noopener":
            problems.append(f"<a rel={attrs.get('rel')!r}>")
    return problems


def address_leaks(text: str) -> list[str]:
    """What in a text could be a published address: markers, or anything find_emails sees."""
    lowered = text.lower()
    leaks = [marker for marker in ADDRESS_MARKERS if marker in lowered]
    leaks += [m.address for m in find_emails(text)]
    leaks += [m.address for m in find_emails(html.unescape(text))]
    leaks += re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", text)
    return leaks
