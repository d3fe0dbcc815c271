"""What a reader sees after redaction: each disguised address gone, the text around it intact."""

from __future__ import annotations

import pytest

from moderation.redaction import (
    DEFAULT_PLACEHOLDER,
    Match,
    find_emails,
    redact_emails,
    strip_invisible,
)

HIDDEN = "[email hidden]"


def _hides(address: str) -> None:
    """The address alone, and framed by prose, leaves exactly the placeholder behind."""
    assert redact_emails(address) == HIDDEN
    assert redact_emails(f"Hi! Write to {address} any time.") == f"Hi! Write to {HIDDEN} any time."


PLAIN = [
    "john@example.com",
    "John.Doe@Example.COM",
    "first.last+tag@mail.example.co.uk",
    "a_b-c@sub-domain.example.org",
    "x@b.io",
    "1234567@qq.com",
    "o'brien@example.ie",
    "ceo@bigcorp.company",
    "root@[192.168.1.10]",
]


@pytest.mark.parametrize("address", PLAIN)
def test_plain_addresses_are_hidden(address: str) -> None:
    _hides(address)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail me: john@example.com.", f"Mail me: {HIDDEN}."),
        ("(john@example.com)", f"({HIDDEN})"),
        ("<john@example.com>", f"<{HIDDEN}>"),
        ("[john@example.com]", f"[{HIDDEN}]"),
        ("'john@example.com',", f"'{HIDDEN}',"),
        ("Is it john@example.com?!", f"Is it {HIDDEN}?!"),
        ("a@example.com,b@example.org;c@example.net", f"{HIDDEN},{HIDDEN};{HIDDEN}"),
        ("«jean@exemple.fr»", f"«{HIDDEN}»"),
        ("请联系wang@example.com谢谢", f"请联系{HIDDEN}谢谢"),
        ("🔥shop@example.com🔥", f"🔥{HIDDEN}🔥"),
    ],
)
def test_punctuation_and_brackets_around_an_address_stay(text: str, expected: str) -> None:
    assert redact_emails(text) == expected


def test_mailto_link_loses_target_and_visible_address() -> None:
    html = '<a href="mailto:john@example.com?subject=Hi">john@example.com</a>'
    assert redact_emails(html) == f'<a href="mailto:{HIDDEN}?subject=Hi">{HIDDEN}</a>'


@pytest.mark.parametrize(
    "disguised",
    [
        "john%40example.com",
        "john%40example%2Ecom",
        "john&#64;example.com",
        "john&#x40;example.com",
        "john&#X40;example&#46;com",
        "john&commat;example&period;com",
        "john&#64example.com",
        "&#106;&#111;&#104;&#110;&#64;&#101;&#120;&#97;&#109;&#112;&#108;&#101;&#46;&#99;&#111;&#109;",
        "%6A%6F%68%6E%40example.com",
    ],
)
def test_escaped_and_entity_forms_are_hidden_whole(disguised: str) -> None:
    _hides(disguised)
    assert find_emails(disguised) == [Match(0, len(disguised), "john@example.com")]


def test_mailto_with_percent_encoded_at() -> None:
    assert redact_emails("<a href='mailto:jane%40example.com'>") == f"<a href='mailto:{HIDDEN}'>"


@pytest.mark.parametrize(
    "spelled",
    [
        "john at example dot com",
        "john AT example DOT com",
        "john [at] example [dot] com",
        "john[at]example[dot]com",
        "john (at) example (dot) com",
        "john{at}example{dot}com",
        "john<at>example<dot>com",
        "john [ at ] example [ dot ] com",
        "john(at)example.com",
        "john[@]example[.]com",
        "john@example dot com",
        "john dot doe at example dot co dot uk",
        "jean arobase exemple point fr",
        "jean [arobase] exemple (point) fr",
        "jean point dupont arobase exemple point fr",
        "juan arroba ejemplo punto es",
        "ivan собака yandex точка ru",
        "hans [at] beispiel [punkt] de",
        "mario chiocciola esempio punto it",
    ],
)
def test_spelled_and_bracketed_forms_are_hidden(spelled: str) -> None:
    _hides(spelled)


def test_spelled_address_is_normalised() -> None:
    assert [m.address for m in find_emails("John DOT Doe AT Example DOT co DOT uk")] == [
        "john.doe@example.co.uk"
    ]
    assert [m.address for m in find_emails("jean point dupont arobase exemple point fr")] == [
        "jean.dupont@exemple.fr"
    ]


@pytest.mark.parametrize(
    "spaced",
    [
        "john @ example . com",
        "john @ example.com",
        "john@ example.com",
        "j.doe @ mail . example . org",
    ],
)
def test_spaced_forms_are_hidden(spaced: str) -> None:
    _hides(spaced)


@pytest.mark.parametrize(
    "lookalike",
    [
        "john＠example．com",
        "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "john﹫example﹒com",
        "john@example․com",
        "ⓙⓞⓗⓝ@ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ",
        "𝐣𝐨𝐡𝐧@𝐞𝐱𝐚𝐦𝐩𝐥𝐞.𝐜𝐨𝐦",
    ],
)
def test_lookalike_at_signs_and_dots_fold(lookalike: str) -> None:
    _hides(lookalike)
    assert [m.address for m in find_emails(lookalike)] == ["john@example.com"]


def test_fullwidth_text_next_to_an_address_comes_back_as_it_was() -> None:
    text = "邮箱：ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｎ　谢谢！"
    assert redact_emails(text) == f"邮箱：{HIDDEN}　谢谢！"


@pytest.mark.parametrize(
    "hidden_chars",
    [
        "jo\u200bhn@example.com",
        "john@exa\u200cmple.com",
        "john\u200d@example.com",
        "john@\u2060example.com",
        "jo\ufeffhn@example.com",
        "jo\u00adhn@exam\u00adple.com",
        "j\u200bo\u200bh\u200bn\u200b@\u200be\u200bx\u200ba\u200bm\u200bp\u200bl\u200be\u200b.\u200bc\u200bo\u200bm",
    ],
)
def test_invisible_characters_inside_an_address_do_not_break_it(hidden_chars: str) -> None:
    _hides(hidden_chars)


@pytest.mark.parametrize(
    "reversed_on_screen",
    ["\u202emoc.elpmaxe@nhoj", "\u202emoc.elpmaxe@nhoj\u202c", "\u202e\u200bmoc.elpmaxe@nhoj"],
)
def test_right_to_left_override_cannot_smuggle_an_address(reversed_on_screen: str) -> None:
    assert redact_emails(reversed_on_screen) == HIDDEN
    assert redact_emails(f"Mail: {reversed_on_screen}\nok") == f"Mail: {HIDDEN}\nok"
    assert [m.address for m in find_emails(reversed_on_screen)] == ["john@example.com"]


@pytest.mark.parametrize(
    "address",
    [
        "josé@exämple.fr",
        "jose\u0301@example.com",
        "user@xn--exmple-cua.fr",
        "用户@例子.中国",
        "иван@пример.рф",
        "ОЛЕГ@ПРИМЕР.РФ",
        "राम@उदाहरण.भारत",
        "müller@münchen.de",
        "contact@xn--e1afmkfd.xn--p1ai",
    ],
)
def test_international_addresses_are_hidden(address: str) -> None:
    _hides(address)


def test_quoted_local_part_is_hidden_whole() -> None:
    _hides('"john doe"@example.com')
    assert [m.address for m in find_emails('"John Doe"@example.com')] == ['"john doe"@example.com']


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("mail john.doe@exam-\nple.com now", f"mail {HIDDEN} now"),
        ("mail john.doe@\nexample.com now", f"mail {HIDDEN} now"),
        ("mail john.doe\n@example.com now", f"mail {HIDDEN} now"),
        ("mail ops@\r\nexample.net now", f"mail {HIDDEN} now"),
        ("mail mar-\ntin@example.org now", f"mail {HIDDEN} now"),
    ],
)
def test_address_broken_across_a_line(broken: str, expected: str) -> None:
    assert redact_emails(broken) == expected


def test_broken_address_is_reported_joined() -> None:
    assert [m.address for m in find_emails("john.doe@exam-\nple.com")] == ["john.doe@example.com"]


LEFT_ALONE = [
    "@jane totally agree",
    "RT @nasa: new images",
    "cc @john.doe please",
    "follow @example.com on twitter",
    "npm install lodash@4.17.21",
    "yarn add lodash@^4.17.21",
    "npm i @scope/pkg@2.0.0",
    "use typescript@5.4.beta",
    "logo@2x.png",
    "icon@3x.webp",
    "url(bg@1.5x.png)",
    "@media screen and (max-width: 600px) { a { color: red } }",
    '@import url("theme.css");',
    "3 apples @ $0.50 each",
    "meet @ 10.30",
    "git@github.com:org/repo.git",
    "ssh://git@github.com/org/repo.git",
    "https://user:secret@example.com/private",
    "john@laptop.local:~$ ls",
    "meet me at the station dot",
    "I looked at google dot com",
    "more info at example.com",
    "the team at example.com",
    "details at example.com/page",
    "find us at www.example.com",
    "Sarah at Starbucks. It was fun.",
    "john at gmail",
    "user@localhost",
    "john@example.c",
    "@property",
    "result = A @ B.T",
    "x@y.z",
    "foo@bar.123",
]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_lookalikes_are_left_alone(text: str) -> None:
    assert find_emails(text) == []
    assert redact_emails(text) == text


def test_bare_git_address_in_prose_is_hidden() -> None:
    assert redact_emails("write to git@github.com today") == f"write to {HIDDEN} today"


def test_default_placeholder_is_exactly_email_hidden() -> None:
    assert DEFAULT_PLACEHOLDER == "[email hidden]"
    assert redact_emails("a john@example.com b") == "a [email hidden] b"


def test_custom_placeholder() -> None:
    assert redact_emails("a john@example.com b", placeholder="▇▇▇") == "a ▇▇▇ b"
    assert redact_emails("a john@example.com b", placeholder="") == "a  b"


def test_each_address_gets_its_own_placeholder() -> None:
    text = "x@example.com and tom at example dot org and y&#64;example.net"
    assert redact_emails(text, "<>") == "<> and <> and <>"


def test_text_without_address_comes_back_identical() -> None:
    text = "Nice post!\n\nI disagree with point 3, though — see https://example.com/a?b=c."
    assert redact_emails(text) == text


def test_matches_map_to_exact_original_spans() -> None:
    text = "A: jo\u200bhn&#64;exa\u00admple.com, B: ｍａｒｙ＠ｅｘａｍｐｌｅ．ｏｒｇ."
    matches = find_emails(text)
    assert [text[m.start : m.end] for m in matches] == [
        "jo\u200bhn&#64;exa\u00admple.com",
        "ｍａｒｙ＠ｅｘａｍｐｌｅ．ｏｒｇ",
    ]
    assert [m.address for m in matches] == ["john@example.com", "mary@example.org"]


def test_match_is_a_frozen_value() -> None:
    match = find_emails("john@example.com")[0]
    assert match == Match(start=0, end=16, address="john@example.com")
    with pytest.raises(AttributeError):
        match.start = 3  # type: ignore[misc]


def test_invisible_characters_outside_addresses_are_stripped_too() -> None:
    text = "safe\u202e text\u200b with\u2066 controls\u200f and john@example.com"
    assert redact_emails(text) == f"safe text with controls and {HIDDEN}"


@pytest.mark.parametrize(
    "control",
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u061c"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)],
)
def test_strip_invisible_removes_every_bidi_and_zero_width_character(control: str) -> None:
    assert strip_invisible(f"a{control}b") == "ab"


def test_strip_invisible_keeps_emoji_sequences_and_soft_hyphens() -> None:
    technologist = "👩\u200d💻"
    rainbow_flag = "🏳\ufe0f\u200d🌈"
    assert strip_invisible(technologist) == technologist
    assert strip_invisible(rainbow_flag) == rainbow_flag
    assert strip_invisible("a\u200d💻") == "a💻"
    assert strip_invisible("long\u00adword") == "long\u00adword"


def test_strip_invisible_leaves_plain_text_alone() -> None:
    text = "Plain text, with accents é and 中文."
    assert strip_invisible(text) == text
