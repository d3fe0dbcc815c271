"""Executable script sinks in a page, found the way a browser finds them: with html5lib."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import html5lib  # type: ignore[import-untyped]

_HTML = "{http://www.w3.org/1999/xhtml}"
_SVG = "{http://www.w3.org/2000/svg}"
_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster", _XLINK_HREF)
_EMBEDDING = ("iframe", "object", "embed", "base", "frame", "frameset", "applet")
# What the app's own pages carry in <head>: its script and an empty favicon.
_OWN_SCRIPT_PREFIX = "/moderate/static/"
_OWN_ICON = ("link", "icon", "data:,")
# The dashboard draws its chart in an <svg class="chart"> of its own.
_OWN_CHART = "chart"


@dataclass(frozen=True, slots=True)
class Sink:
    """One place a browser would run script (or load a document) from."""

    kind: str
    detail: str


def _local(tag: object) -> tuple[str, str]:
    name = str(tag)
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return "{" + namespace + "}", local.lower()
    return _HTML, name.lower()


def _scheme(value: str) -> str:
    # Browsers drop ASCII whitespace and C0 controls anywhere in the scheme before reading it.
    kept = "".join(c for c in value if ord(c) > 0x20 and c != "\x7f")
    return kept.split(":", 1)[0].lower() if ":" in kept else ""


def _walk(root: ET.Element) -> list[Sink]:
    found: list[Sink] = []
    for element in root.iter():
        namespace, name = _local(element.tag)
        attributes = {str(k): str(v) for k, v in element.attrib.items()}
        if name == "script":
            src = attributes.get("src", "")
            if not (namespace == _HTML and src.startswith(_OWN_SCRIPT_PREFIX)):
                found.append(Sink("script", src or (element.text or "")[:60]))
        if name in _EMBEDDING and namespace == _HTML:
            found.append(Sink(name, str(attributes)[:80]))
        if name == "meta" and attributes.get("http-equiv", "").strip().lower() == "refresh":
            found.append(Sink("meta-refresh", attributes.get("content", "")[:80]))
        if namespace == _SVG and name == "svg" and attributes.get("class") != _OWN_CHART:
            found.append(Sink("svg", str(attributes)[:80]))
        if namespace == _MATHML and name == "math":
            found.append(Sink("math", str(attributes)[:80]))
        for key, value in attributes.items():
            _, attribute = _local(key)
            if attribute.startswith("on"):
                found.append(Sink("event-handler", f"{name} {attribute}={value[:60]!r}"))
            if (key in _URL_ATTRIBUTES or attribute in _URL_ATTRIBUTES) and _scheme(value) in (
                "javascript",
                "data",
                "vbscript",
            ):
                if (name, attributes.get("rel", ""), value) == _OWN_ICON:
                    continue
                found.append(Sink("script-url", f"{name} {attribute}={value[:60]!r}"))
    return found


def in_page(html: str) -> list[Sink]:
    """The sinks in a whole page, parsed as a browser parses it."""
    document: ET.Element = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)
    return _walk(document)


def in_fragment(html: str) -> list[Sink]:
    """The sinks in an HTML fragment inserted into a <div> (as the embed script does)."""
    fragment: ET.Element = html5lib.parseFragment(
        html, container="div", treebuilder="etree", namespaceHTMLElements=True
    )
    return _walk(fragment)


def links(html: str) -> list[dict[str, str]]:
    """The attributes of every <a> of a page."""
    document: ET.Element = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)
    return [{str(k): str(v) for k, v in a.attrib.items()} for a in document.iter(f"{_HTML}a")]
