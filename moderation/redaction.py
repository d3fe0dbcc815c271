"""Find email addresses in comment text, however they are disguised, and hide them.

Pure functions over strings (no I/O, no settings):

* `find_emails(text)` lists each address as a `Match`: its span in the ORIGINAL text and the
  address normalised (entities, escapes and NFKC applied, spelled "at"/"dot" resolved,
  lowercased).
* `redact_emails(text, placeholder)` replaces each span with the placeholder and runs
  `strip_invisible` over everything else.
* `strip_invisible(text)` drops the bidi controls and zero-width characters that must never reach
  a published page (an RLO makes "moc.elpmaxe@nhoj" display as an address). So "unchanged" means
  byte-for-byte unchanged for a text with no address and no invisible character.

How. The text is folded into a detection copy, in layers: non-ASCII runs (invisible characters
dropped, NFKC applied), then HTML entities (one level) and percent-escapes of printable ASCII, then
words hyphenated across a line break; the copy is lowercased. Each layer records its edits, so a
match maps back through them to an exact span of the original. Scanners (`SCANNERS`) run over whole
texts and find separator tokens: `@`, a bracketed at, one whitespace and an at-word. Anchored
patterns (`ANCHORED`) then read outwards with `match`: the domain forwards, the local part on a
reversed copy; Python keeps the longest domain that ends in an acceptable TLD. Every repetition is
possessive or bounded and every scanner starts with a literal or a class, so each call is linear
and skips most text in C. A text containing an RLO (U+202E) is also read in display order.

Decisions (R = redacted, L = left alone):

| input                                  | | why                                               |
|----------------------------------------|-|---------------------------------------------------|
| `john@example.com`, `<…>`, `(…)`, `…,` |R| plain: any alphabetic TLD of two letters or more  |
| `mailto:john%40example.com`, `&#64;`   |R| decoded first; the word `mailto:` itself stays    |
| `john＠example．com`, `ⓙⓞⓗⓝ@…`         |R| NFKC folds the look-alike letters, at and dots    |
| zero-width, soft hyphen in an address  |R| ignored inside an address, then removed with it   |
| RLO + `moc.elpmaxe@nhoj`               |R| the text is also read in display order            |
| `josé@exämple.fr`, `用户@例子.中国`    |R| Unicode labels, IDN and punycode accepted         |
| `"john doe"@example.com`               |R| quoted local part, 64 characters at most          |
| `j.doe@exam-` + newline + `ple.com`    |R| "-" then a line break joins; `@` + newline too    |
| `john at example dot com`, `(at)`      |R| spelled/bracketed: the TLD must be in `TLDS`      |
| `jean arobase exemple point fr`        |R| also arroba/punto, собака/точка, punkt, chiocciola|
| `john @ example . com`, `john@ x.io`   |R| spaced: the TLD must be in `TLDS`                 |
| `follow @example.com`                  |L| spaces before the `@` only: a mention             |
| `git@github.com` alone in prose        |R| cannot be told from a mailbox                     |
| `I looked at google dot com`           |L| bare "at" after a common word (`_STOP_LOCAL`)     |
| `more info at example.com`, `at the …` |L| determiner before / stop word after a bare "at"   |
| `details at example.com/page`, `www.`  |L| bare "at" before a URL path or a www host: a link |
| `meet me at the station dot`           |L| no TLD after "dot"                                |
| `Sarah at Starbucks. It was`           |L| ". " (dot, space) ends a sentence, never a domain |
| `john  at example dot com`             |L| a bare at-word needs exactly one space before it  |
| `@mentions`, `RT @name:`, `@media`     |L| nothing before the `@`                            |
| `pkg@1.2.3`, `lodash@^4.17.21`         |L| numeric TLD; digits then an unknown TLD = version |
| `logo@2x.png`, `icon@3x.webp`          |L| retina suffix, or a file extension as TLD         |
| `3 apples @ $0.50`, `user@localhost`   |L| no dotted domain after the `@`                    |
| `git@github.com:org/repo.git`          |L| `host:path` (or `:~`) is an SSH target or a prompt|
| `ssh://git@host/x`, `ftp://u:pw@host`  |L| URL userinfo is a login (`mailto://` still hidden)|
| `X@self.weights` (matrix product)      |R| known over-match: reads as TLD "weights"          |
| `john@example.com.Thanks`              |R| known over-match: "Thanks" is taken as the TLD    |
| ZWJ between two emoji (👩‍💻)             |L| the one zero-width kept: removing it splits emoji |

The soft hyphen (U+00AD) is ignored inside addresses but kept by `strip_invisible`: it is a
legitimate hyphenation hint, neither a bidi control nor zero-width.
"""

from __future__ import annotations

import functools
import html.entities
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from typing import TypeAlias

from moderation.tlds import COUNTRY_CODES

__all__ = [
    "ANCHORED",
    "DEFAULT_PLACEHOLDER",
    "PATTERNS",
    "SCANNERS",
    "TLDS",
    "Match",
    "find_emails",
    "redact_emails",
    "strip_invisible",
]

DEFAULT_PLACEHOLDER = "[email hidden]"


@dataclass(frozen=True, slots=True)
class Match:
    """One address: its span [start, end) in the original text and its normalised form."""

    start: int
    end: int
    address: str


# --------------------------------------------------------------------------------------------
# Top-level domains. The spelled and spaced forms are only believed with one of these at the
# end; a plain `local@domain.tld` accepts any alphabetic TLD, so this list need not be complete.

_TLD_SOURCE = """
com net org edu gov mil int info biz name pro aero coop museum mobi asia tel travel jobs cat post
xxx arpa
academy accountant accountants actor adult agency airforce amsterdam apartments app archi army art
associates attorney auction audio auto autos baby band bank bar barcelona bargains bayern beer
berlin best bet bid bike bingo bio black blackfriday blog blue boats boutique brussels build
builders business buzz bzh cab cafe cam camera camp capital car cards care career careers cars
casa cash casino catering center ceo charity chat cheap church city claims cleaning click clinic
clothing cloud club coach codes coffee college cologne community company computer condos
construction consulting contractors cooking cool corsica country coupons courses credit
creditcard cricket cruises cymru dance date dating day deals degree delivery democrat dental
dentist design dev diamonds diet digital direct directory discount doctor dog domains download
earth eco education email energy engineer engineering enterprises equipment estate events
exchange expert exposed express fail faith family fan fans farm fashion film finance financial
fish fishing fit fitness flights florist flowers football forsale foundation frl fun fund
furniture futbol fyi gal gallery game games garden gay gift gifts gives glass global gmbh gold
golf graphics gratis green gripe group guide guitars guru hair hamburg haus health healthcare help
hiphop hockey holdings holiday homes horse hospital host hosting house how immo immobilien inc
industries ink institute insure international investments irish istanbul jetzt jewelry kaufen kim
kitchen kiwi koeln land law lawyer lease legal lgbt life lighting limited limo link live llc loan
loans lol london love ltd luxury madrid maison management market marketing mba media melbourne
memorial men menu miami moda moe mom money mortgage moscow movie mov nagoya navy network new news
nexus ngo ninja now nrw nyc observer one ong online ooo organic osaka page paris partners parts
party pet phd photo photography photos pics pictures pink pizza place plumbing plus poker porn
press productions promo properties property pub quebec racing radio realty recipes red rehab reise
reisen rent rentals repair report republican rest restaurant review reviews rich rio rip rocks
rodeo ruhr run saarland sale salon sarl school schule science scot services sex sexy shoes shop
shopping show singles site ski soccer social software solar solutions space spb store stream
studio study style sucks supplies supply support surf surgery swiss sydney systems taipei tattoo
tax taxi team tech technology tennis theater tienda tips tires tirol today tokyo tools top tours
town toys trade trading training tube university uno vacations vegas ventures vet viajes video
villas vin vip vision vlaanderen vodka vote voting voto voyage wales wang watch webcam website
wedding wien wiki win wine work works world wtf xyz yoga yokohama zip zone
google gmail youtube apple microsoft amazon yahoo android
рф рус бел укр срб мкд мон қаз бг ею ελ 中国 中國 中文网 公司 网络 网址 在线 台湾 台灣 香港 澳門
新加坡 日本 みんな コム 한국 닷컴 닷넷 السعودية امارات مصر المغرب الجزائر تونس عمان قطر ایران
پاکستان ישראל भारत ไทย
xn--p1ai xn--p1acf xn--90ais xn--j1amh xn--90a3ac xn--d1alf xn--l1acc xn--80ao21a xn--90ae
xn--e1a4c xn--qxam xn--fiqs8s xn--fiqz9s xn--io0a7i xn--55qx5d xn--kprw13d xn--kpry57d
xn--j6w193g xn--mix891f xn--yfro4i67o xn--3e0b707e xn--mgberp4a5d4ar xn--mgbaam7a8h
xn--wgbh1c xn--mgbc0a9azcg xn--lgbbat1ad8j xn--pgbs0dh xn--mgb9awbf xn--wgbl6a xn--mgba3a4f16a
xn--mgbai9azgqp6j xn--4gbrim xn--h2brj9c xn--o3cw4h
"""


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a text, as a set."""
    return frozenset(text.split())


TLDS: frozenset[str] = COUNTRY_CODES | _words(_TLD_SOURCE)

# Names that follow a dot in file names, not in mail domains: `logo@2x.png` is not an address.
# A real ccTLD that is also an extension (py, md, sh, rs...) stays accepted.
_FILE_EXTENSIONS = _words(
    """
    png jpg jpeg gif webp svg avif bmp ico tif tiff heic heif psd js mjs cjs ts tsx jsx css scss
    sass less map json xml yml yaml toml txt pdf doc docx xls xlsx ppt pptx odt ods csv tsv pyc rb
    php java class jar go cpp hpp swift kt htm html vue exe dll dylib dmg iso apk bin dat log ini
    cfg conf lock woff woff2 ttf otf eot mp3 mp4 wav ogg webm mkv avi flac mov gz tgz bz2 xz rar
    wasm bak tmp
    """
)

# Words that often stand before a bare English "at" in prose ("looked at", "me at", "details
# at"): with one of them as the local part, "X at host dot com" is a sentence, not a mailbox.
_STOP_LOCAL = _words(
    """
    i me you he him she her it we us they them i'm you're we're they're he's she's it's one
    someone anyone everyone nobody everybody somebody people folks guys all both each this that
    these those there here who what which where when how why is are was were be been being am do
    does did done have has had get gets got getting go goes went going gone come comes came coming
    look looks looked looking stare stares stared staring glance glanced peek peeked arrive
    arrives arrived arriving stay stays stayed staying live lives lived living work works worked
    working meet meets met meeting eat eats ate eating sit sits sat sitting stand stood stop stops
    stopped start starts started starting begin began point points pointed aim aimed laugh laughed
    laughing smile smiled yell yelled shout shouted shoot shot throw threw hit buy bought sell
    sold find found see saw seen read visit visited check checked sign signed play played playing
    shop shopped shopping study studied studying teach taught teaching learn learned learnt
    available located based hosted posted published listed shown held born raised employed online
    offline open opened closed free cheap good great better best bad worse worst excellent
    terrible nice fine ok okay expert skilled not never always even only just also still already
    again later now then once twice least most last first right left up down out in on off over
    back home away somewhere anywhere everywhere nowhere directly straight together alone early
    late today tonight tomorrow yesterday sale price priced valued rated estimated site website
    blog page article post posts story stories docs documentation doc code source repo repository
    project demo download downloads details detail tickets ticket photos pictures images videos
    video recipe recipes more everything anything something nothing stuff things news updates
    """
)

# A determiner right before the local part makes it a noun phrase: "the team at example.com".
_DETERMINERS = _words(
    """
    the a an my our your his her their its this that these those some any no more full further
    latest every each all official new
    """
)

# A bare "at" followed by one of these starts a place or a time, not a domain: "at the...".
_STOP_DOMAIN = _words(
    """
    the a an this that these those my your our his her their its home work school night noon
    least last first once all best most times some any no which what who where when how one two
    it me us them you him
    """
)

# Spelled separators, in the languages the corpus covers. "at"-words are matched only as whole
# words between spaces or inside brackets.
_AT_WORDS = (
    "at",
    "arobase",
    "arroba",
    "chiocciola",
    "klammeraffe",
    "apenstaartje",
    "собака",
    "ät",
)
_DOT_WORDS = ("dot", "point", "punto", "punkt", "punt", "ponto", "точка")

_Trie: TypeAlias = "dict[str, _Trie]"


def _trie_alternation(words: Iterable[str]) -> str:
    """Regex source for any of the words, as a trie so a failed try costs one character test."""
    root: _Trie = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: _Trie) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return "(?:" + body + ")?"
        return body

    return emit(root)


# All detection runs on a lowercased copy, so these tries are plain literals: `re` skips a
# branch that starts with a literal in one comparison, a case-insensitive one costs a full try.
_TLD_ALT = _trie_alternation(TLDS)
_AT_WORD_ALT = _trie_alternation(_AT_WORDS)
_DOT_WORD_ALT = _trie_alternation(_DOT_WORDS)
_DOT_WORD_REV_ALT = _trie_alternation(w[::-1] for w in _DOT_WORDS)

# --------------------------------------------------------------------------------------------
# Character classes.

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
# Code points that make up emoji ZWJ sequences (👩‍💻, 🏳️‍🌈, 🐈‍⬛): pictographs, dingbats, VS16.
_EMOJI = "\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff"
# Dropped from the detection copy: the above plus soft hyphen, combining grapheme joiner,
# Mongolian vowel separator, invisible operators, variation selectors and tag characters.
_IGNORED = (
    f"{_BIDI_CONTROLS}{_ZERO_WIDTH}\u00ad\u034f\u180e\u2061-\u2064\ufe00-\ufe0f"
    "\U000e0000-\U000e007f"
)
# Combining marks of the common scripts. `\w` leaves them out, yet they sit inside words:
# a decomposed "é", Devanagari vowel signs, Arabic harakat, Thai vowels, kana voicing marks.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0981-\u0983\u09bc-\u09d7"
    "\u0a01-\u0a03\u0a3c-\u0a51\u0b01-\u0b03\u0b3c-\u0b57\u0bbe-\u0bcd\u0c00-\u0c04"
    "\u0c3e-\u0c56\u0cbc-\u0cd6\u0d00-\u0d03\u0d3b-\u0d4d\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
    "\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20f0\u3099\u309a"
    "\ufe20-\ufe2f"
)
_WORD = rf"\w{_MARKS}"
_LOCAL_CHARS = rf"[{_WORD}.+'-]"
_LABEL = rf"[{_WORD}-]{{1,63}}+"
_H = r"[ \t]"
_OPEN = r"[\[({<]"
_CLOSE = r"[\])}>]"

# --------------------------------------------------------------------------------------------
# Patterns. The scanners run over whole texts: each starts with a literal or a character class,
# so `re` skips to candidate positions in C, and every repetition is possessive or bounded, so
# no attempt backtracks. They only find candidates around a separator token; the helpers then
# read outwards from it with `match` at a known position, and Python checks the rest.

# Every bidi control and zero-width character goes, in runs so that a wall of them is one
# substitution; the ZWJ has its own pattern, as it survives between two emoji. (`[c][c]*+`
# rather than `[c]++`: only a pattern that starts with a plain class lets `re` skip in C.)
_STRIP_CLASS = f"[{_BIDI_CONTROLS}\u200b\u200c\u2060\ufeff]"
_STRIP_RE = re.compile(f"{_STRIP_CLASS}{_STRIP_CLASS}*+")
_STRIP_ZWJ_RE = re.compile(f"\u200d(?!(?<=[{_EMOJI}]\u200d)[{_EMOJI}])")

# A right-to-left override reverses everything up to the pop or the end of the paragraph.
_RLO_RE = re.compile("\u202e[^\u202c\n\r\u2029]*+")

# The detection copy is built in layers, each one scanner, each edit recorded: non-ASCII runs
# (ignored characters dropped, the rest folded by NFKC if it is not already), then HTML
# entities and percent-escapes of printable ASCII, then hyphenated line breaks. Every scanner
# starts with a class or literals, so `re` skips in C to the characters that can open a piece,
# and tells its branches apart by the character after it with a plain class where it can, so
# `&&&…` or `%%%…` cost a comparison or two per character. Empty groups name the branch taken.
_NON_ASCII_RE = re.compile(
    rf"[\x80-\U0010ffff](?:(?<=[{_IGNORED}])[{_IGNORED}]*+(?P<ignored>)"
    rf"|[^\x00-\x7f{_IGNORED}]*+(?P<other>))"
)
_ESCAPE_RE = re.compile(
    r"[&%](?:[#A-Za-z](?:(?<=#)(?:[xX][0-9a-fA-F]{1,6}|[0-9]{1,7});?"
    r"|(?<=[A-Za-z])[A-Za-z0-9]{1,31};)(?P<entity>)"
    r"|[2-7][0-9a-fA-F](?P<pct>))"
)
# A word hyphenated across a line break ("exam-\nple"), for `split`. Each pattern starts with
# two or three literal characters, which `re` finds without trying every `-`.
_HYPHEN_LF_SPLIT_RE = re.compile(r"(-\n(?<=\w-\n)[ \t]{0,8}+(?=\w))")
_HYPHEN_CRLF_SPLIT_RE = re.compile(r"(-\r\n(?<=\w-\r\n)[ \t]{0,8}+(?=\w))")
_IGNORED_RE = re.compile(f"[{_IGNORED}][{_IGNORED}]*+")


def _split_form(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The pattern with one group around the whole match and none inside, for `split`."""
    return re.compile("(" + re.sub(r"\(\?P<\w+>\)", "", pattern.pattern) + ")")


_NON_ASCII_SPLIT_RE = _split_form(_NON_ASCII_RE)
_ESCAPE_SPLIT_RE = _split_form(_ESCAPE_RE)

# A separator between labels other than a plain ".": " . ", " .", "[dot]", "(.)", " dot ",
# " point "... Never ". " (a dot, then a space, no space before): that ends a sentence.
_DOT_BRACKET = rf"{_H}{{0,2}}+(?:{_DOT_WORD_ALT}|\.){_H}{{0,2}}+{_CLOSE}{_H}{{0,3}}+"
_DOT_SPACED = rf"{_H}{{0,2}}+(?:\.{_H}{{0,3}}+|{_OPEN}{_DOT_BRACKET}|{_DOT_WORD_ALT}{_H}{{1,3}}+)"
_WEAK_DOT = rf"{_OPEN}{_DOT_BRACKET}|{_H}{_DOT_SPACED}"
# Labels and separators, taken possessively, from a label start found by a scanner; Python then
# keeps the longest prefix that ends in an acceptable TLD, so trailing junk never costs an
# address ("john@example.com .5", "x at example dot com dot and").
_CHAIN_RE = re.compile(rf"{_LABEL}(?:(?:\.|{_WEAK_DOT}){_LABEL}){{1,9}}+")
# The separators inside a chain that `_CHAIN_RE` matched, to find where its labels are.
_SEP_RE = re.compile(rf"\.|{_WEAK_DOT}")
# What a scanner wants after the separator: a label, then a dot and two more label characters,
# or the start of a spaced or bracketed separator (or a combining mark, left to `_CHAIN_RE`).
# This turns `a.a@a.a@...` away in C. Plain `\w` here: a class that also lists the marks costs
# a walk through every range on each character that fails it.
_CHAIN_AHEAD = rf"(?=[\w-]{{1,63}}+(?:\.[\w-]{{2}}|[\[({{< \t{_MARKS}]))"

# Scanners: each stops at the first label of the domain. `@` right before it: the plain reading
# and, failing it, the spaced one. The spaces-after-`@` case has its own scanner, so that this
# one, which sees every `@` of a text, does as little as possible at each.
_AT_RE = re.compile(rf"@{_CHAIN_AHEAD}")
# `@`, then a few spaces or one line break: `john @ example . com`, `john.doe@\nexample.com`.
_AT_SPACED_RE = re.compile(
    rf"@(?:{_H}{{1,3}}+(?:\r?\n{_H}{{0,3}}+)?+|\r?\n{_H}{{0,3}}+){_CHAIN_AHEAD}"
)
# `@` then an IPv4 literal: `john@[192.0.2.1]`.
_AT_IP_RE = re.compile(r"@(?P<domain>\[(?:[0-9]{1,3}\.){3}[0-9]{1,3}\])")
# `[at]`, `(at)`, `{at}`, `<at>`, `[@]`, `(arobase)`... The domain is left to `_CHAIN_RE`: a
# lookahead here would be paid again at every `[at]` of a text made of nothing else.
_AT_BRACKET_RE = re.compile(
    rf"{_OPEN}{_H}{{0,2}}+(?:{_AT_WORD_ALT}|@){_H}{{0,2}}+{_CLOSE}{_H}{{0,3}}+"
)
# A bare at-word with exactly one whitespace character before it and a few spaces after it:
# " at ", " AT ", " arobase ". The lookbehind also keeps "  at  at  at" cheap.
_AT_WORD_RE = re.compile(
    rf"[ \t\r\n](?<=[^ \t\r\n][ \t\r\n])(?P<word>{_AT_WORD_ALT}){_H}{{1,3}}+{_CHAIN_AHEAD}"
)

# Local parts, matched on the reversed text from just before the separator. Quoted strings
# read the same both ways; the spelled dots are spelled backwards.
_QUOTED_LOCAL_RE = re.compile(r'"[^"\\\r\n]{1,64}+"')
_LOCAL_REV_RE = re.compile(rf"{_LOCAL_CHARS}{{1,256}}+")
_REV_DOT_SEP = (
    rf"(?:{_CLOSE}{_H}{{0,2}}+(?:{_DOT_WORD_REV_ALT}|\.){_H}{{0,2}}+{_OPEN}{_H}{{0,3}}+"
    rf"|{_H}{_H}{{0,2}}+(?:{_CLOSE}{_H}{{0,2}}+(?:{_DOT_WORD_REV_ALT}|\.){_H}{{0,2}}+{_OPEN}"
    rf"{_H}{{0,3}}+|{_DOT_WORD_REV_ALT}{_H}{{1,3}}+))"
)
_WEAK_LOCAL_REV_RE = re.compile(
    rf"{_LOCAL_CHARS}{{1,64}}+(?:{_REV_DOT_SEP}{_LOCAL_CHARS}{{1,64}}+){{0,3}}+"
)
# Where a chain stops being plain: its first space or bracket.
_WEAK_START_RE = re.compile(r"[ \t\r\n\[({<]")

# After the domain: `:path` or `:~` makes `user@host` an SSH/scp target or a shell prompt.
_HOST_PATH_RE = re.compile(r":(?:[~/]|[\w.-]{1,100}+/)")
# Before the local part (reversed): `scheme://` or `scheme://user:` makes it URL userinfo.
_USERINFO_REV_RE = re.compile(
    r"//:(?P<scheme>[\w.+-]{1,32}+)|:[^\s/@:]{1,64}+//:(?P<scheme2>[\w.+-]{1,32}+)"
)
# A bare "at" followed by a URL path is a link in prose.
_URL_PATH_RE = re.compile(r"/\S")
# The word right before the local part (reversed).
_PREV_WORD_REV_RE = re.compile(r"[ \t](?P<word>[^\W\d_]{1,32}+)")

# Scanners run over whole texts (`finditer`, `sub`, `search`). Anchored patterns only ever run
# at a position a scanner found (`match`), or inside a span another pattern matched (a chain is
# at most ten labels), so their cost per call is bounded by their length.
SCANNERS: tuple[re.Pattern[str], ...] = (
    _STRIP_RE,
    _STRIP_ZWJ_RE,
    _RLO_RE,
    _NON_ASCII_RE,
    _NON_ASCII_SPLIT_RE,
    _ESCAPE_SPLIT_RE,
    _HYPHEN_LF_SPLIT_RE,
    _HYPHEN_CRLF_SPLIT_RE,
    _IGNORED_RE,
    _AT_RE,
    _AT_SPACED_RE,
    _AT_IP_RE,
    _AT_BRACKET_RE,
    _AT_WORD_RE,
)
ANCHORED: tuple[re.Pattern[str], ...] = (
    _ESCAPE_RE,
    _CHAIN_RE,
    _SEP_RE,
    _QUOTED_LOCAL_RE,
    _LOCAL_REV_RE,
    _WEAK_LOCAL_REV_RE,
    _WEAK_START_RE,
    _HOST_PATH_RE,
    _USERINFO_REV_RE,
    _URL_PATH_RE,
    _PREV_WORD_REV_RE,
)
PATTERNS: tuple[re.Pattern[str], ...] = SCANNERS + ANCHORED

# --------------------------------------------------------------------------------------------
# Public API.


def strip_invisible(text: str) -> str:
    """Remove bidi controls and zero-width characters (except a ZWJ joining two emoji)."""
    return _STRIP_ZWJ_RE.sub("", _STRIP_RE.sub("", text))


def find_emails(text: str) -> list[Match]:
    """List the email addresses in a text, with their spans in the original text."""
    found = _detect(text)
    if "\u202e" in text:
        visual, order = _display_order(text)
        for start, end, address in _detect(visual):
            positions = order[start:end]
            found.append((min(positions), max(positions) + 1, address))
    return _merge(found)


def redact_emails(text: str, placeholder: str = DEFAULT_PLACEHOLDER) -> str:
    """Replace every email address with the placeholder and strip invisible characters."""
    matches = find_emails(text)
    if not matches:
        return strip_invisible(text)
    invisible = _STRIP_RE.search(text) is not None or "\u200d" in text
    clean = strip_invisible if invisible else _same
    parts: list[str] = []
    pos = 0
    for match in matches:
        parts.append(clean(text[pos : match.start]))
        parts.append(placeholder)
        pos = match.end
    parts.append(clean(text[pos:]))
    return "".join(parts)


def _same(text: str) -> str:
    """Identity, for texts already known to hold no invisible character."""
    return text


# --------------------------------------------------------------------------------------------
# Normalisation with an offset map.


# One edit: (position in the copy, original start, original end, length in the copy, 1:1).
_Edit: TypeAlias = tuple[int, int, int, int, bool]


@dataclass(slots=True)
class _Folded:
    """The detection copy of a text and the edits that made it from the original.

    Edit k replaced original [starts[k], ends[k]) by lengths[k] characters at norm_starts[k]
    of the copy: one for one when one_to_one[k] (a run of fullwidth letters), atomically
    otherwise (an entity, a dropped invisible, a ligature). Between edits the copy is the
    original shifted, which is what makes the map exact.
    """

    text: str
    norm_starts: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    lengths: tuple[int, ...]
    one_to_one: tuple[bool, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span covering the detection-copy span [start, end)."""
        if not self.norm_starts:
            return start, end
        return self._origin(start, after=False), self._origin(end - 1, after=True)

    def _origin(self, pos: int, *, after: bool) -> int:
        """Original position of copy position pos (its end instead when after is set)."""
        k = bisect_right(self.norm_starts, pos) - 1
        if k < 0:
            return pos + after
        offset = pos - self.norm_starts[k]
        if offset >= self.lengths[k]:
            return self.ends[k] + offset - self.lengths[k] + after
        if self.one_to_one[k]:
            return self.starts[k] + offset + after
        return self.ends[k] if after else self.starts[k]


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """NFKC of one character, with the one letter whose lowercase is longer made plain."""
    return unicodedata.normalize("NFKC", ch).replace("\u0130", "I")


@functools.lru_cache(maxsize=1024)
def _entity_text(entity: str) -> str | None:
    """What an HTML entity stands for, folded like the rest of the copy; None if unknown."""
    if entity[1] == "#":
        body = entity[2:].rstrip(";")
        code = int(body[1:], 16) if body[0] in "xX" else int(body)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        decoded = chr(code)
    else:
        found = html.entities.html5.get(entity[1:])
        if found is None:
            return None
        decoded = found
    return _IGNORED_RE.sub("", "".join(_fold_char(ch) for ch in decoded))


# Short pieces of the fold (an entity, an escape, a fullwidth letter, a zero-width run) come
# back again and again; their outcome is kept here, bounded, so most edits cost a dict lookup.
# The value is (replacement, its length, one_to_one), or None for a piece NFKC leaves alone.
_Outcome: TypeAlias = tuple[str, int, bool] | None
_FOLD_MEMO: dict[str, _Outcome] = {}
_FOLD_MEMO_MAX = 4096
_MISS = ("", -1, False)


def _fold(text: str, scanner: re.Pattern[str], splitter: re.Pattern[str]) -> _Folded | None:
    """One layer of the detection copy: the pieces `scanner` finds, folded; None if none is."""
    # `split` hands back the pieces and the text between them in one C call; the memo,
    # `accumulate` and `compress` then do per piece what a `sub` callback would do in Python.
    pieces = splitter.split(text)
    if len(pieces) == 1:
        return None
    found = pieces[1::2]
    outcomes = list(map(_FOLD_MEMO.get, found, repeat(_MISS)))
    offsets = list(accumulate(map(len, pieces), initial=0))
    if _MISS in outcomes:
        for j, outcome in enumerate(outcomes):
            if outcome is not _MISS:
                continue
            piece = found[j]
            match = scanner.match(text, offsets[2 * j + 1])
            assert match is not None
            kind = match.lastgroup
            if kind == "other" and len(piece) > 8:
                replacement, run_edits = _fold_run(piece, 0)
                if not run_edits:
                    outcomes[j] = None
                elif len(run_edits) == 1 and run_edits[0][:2] == (0, len(piece)):
                    outcomes[j] = (replacement, run_edits[0][2], run_edits[0][3])
                else:
                    return _fold_by_callback(text)  # a run needing per-character edits
                continue
            outcomes[j] = _memo_fold_piece(piece, kind)
    if outcomes.count(None) == len(outcomes):
        return None
    pieces[1::2] = [piece if o is None else o[0] for piece, o in zip(found, outcomes, strict=True)]
    edited = [outcome is not None for outcome in outcomes]
    norm_offsets = list(accumulate(map(len, pieces), initial=0))
    kept = [outcome for outcome in outcomes if outcome is not None]
    return _Folded(
        "".join(pieces),
        tuple(compress(norm_offsets[1::2], edited)),
        tuple(compress(offsets[1::2], edited)),
        tuple(compress(offsets[2::2], edited)),
        tuple(outcome[1] for outcome in kept),
        tuple(outcome[2] for outcome in kept),
    )


def _is_normalised(text: str) -> bool:
    """True when NFKC (and lowercasing lengths) leave the text as it is, invisibles aside."""
    return text.isascii() or (
        "\u0130" not in text
        and _IGNORED_RE.search(text) is None
        and unicodedata.is_normalized("NFKC", text)
    )


def _memo_fold_piece(piece: str, kind: str | None) -> _Outcome:
    """`_fold_piece`, remembered in the bounded memo."""
    outcome = _fold_piece(piece, kind)
    if len(_FOLD_MEMO) >= _FOLD_MEMO_MAX:
        _FOLD_MEMO.clear()
    _FOLD_MEMO[piece] = outcome
    return outcome


def _fold_by_callback(text: str) -> _Folded | None:
    """The non-ASCII layer for texts with runs to fold one character at a time."""
    edits: list[_Edit] = []
    record = edits.append
    shift = 0

    def edit(m: re.Match[str]) -> str:
        nonlocal shift
        piece = m.group()
        if m.lastgroup == "other" and len(piece) > 8:
            replacement, run_edits = _fold_run(piece, m.start())
            for start, end, length, one_to_one in run_edits:
                record((start - shift, start, end, length, one_to_one))
                shift += end - start - length
            return replacement
        outcome = _FOLD_MEMO.get(piece, _MISS)
        if outcome is _MISS:
            outcome = _memo_fold_piece(piece, m.lastgroup)
        if outcome is None:
            return piece
        replacement, length, one_to_one = outcome
        start, end = m.span()
        record((start - shift, start, end, length, one_to_one))
        shift += end - start - length
        return replacement

    norm = _NON_ASCII_RE.sub(edit, text)
    if not edits:
        return None
    norm_starts, starts, ends, lengths, one_to_one = zip(*edits, strict=True)
    return _Folded(norm, norm_starts, starts, ends, lengths, one_to_one)


def _fold_piece(piece: str, kind: str | None) -> _Outcome:
    """How one short piece folds: (replacement, length, one_to_one), or None to keep it."""
    if kind == "ignored":
        return "", 0, False
    if kind == "entity":
        decoded = _entity_text(piece)
        return None if decoded is None else (decoded, len(decoded), False)
    if kind == "pct":
        return None if piece[1:] in ("7f", "7F") else (chr(int(piece[1:], 16)), 1, False)
    if "\u0130" not in piece and unicodedata.is_normalized("NFKC", piece):
        return None
    composed = unicodedata.normalize("NFKC", piece).replace("\u0130", "I")
    whole = "".join(_fold_char(ch) for ch in piece)
    one_to_one = whole == composed and len(whole) == len(piece)
    return composed, len(composed), one_to_one


def _fold_run(run: str, start: int) -> tuple[str, list[tuple[int, int, int, bool]]]:
    """NFKC of a long non-ASCII run and its edits, one character at a time where it can."""
    if "\u0130" not in run and unicodedata.is_normalized("NFKC", run):
        return run, []
    folded = [_fold_char(ch) for ch in run]
    whole = "".join(folded)
    composed = unicodedata.normalize("NFKC", run).replace("\u0130", "I")
    if whole == composed and len(whole) == len(run):
        # NFKC never maps a character to nothing, so equal lengths mean one for one.
        return whole, [(start, start + len(run), len(run), True)]
    edits: list[tuple[int, int, int, bool]] = []
    if whole == composed:
        for offset, (ch, fch) in enumerate(zip(run, folded, strict=True)):
            if fch != ch:
                edits.append((start + offset, start + offset + 1, len(fch), len(fch) == 1))
        return whole, edits
    # Characters compose across each other: fold each base character with its marks.
    parts: list[str] = []
    cluster_start = 0
    for offset in range(1, len(run) + 1):
        if offset < len(run) and unicodedata.combining(run[offset]):
            continue
        cluster = run[cluster_start:offset]
        fcluster = unicodedata.normalize("NFKC", cluster).replace("\u0130", "I")
        if fcluster != cluster:
            edits.append((start + cluster_start, start + offset, len(fcluster), False))
        parts.append(fcluster)
        cluster_start = offset
    return "".join(parts), edits


def _removal(text: str, splitter: re.Pattern[str]) -> _Folded | None:
    """A layer that deletes what `splitter` finds: words hyphenated across a line break."""
    pieces = splitter.split(text)
    if len(pieces) == 1:
        return None
    offsets = list(accumulate(map(len, pieces), initial=0))
    pieces[1::2] = repeat("", len(pieces) // 2)
    norm_offsets = list(accumulate(map(len, pieces), initial=0))
    count = len(pieces) // 2
    return _Folded(
        "".join(pieces),
        tuple(norm_offsets[1::2][:count]),
        tuple(offsets[1::2][:count]),
        tuple(offsets[2::2][:count]),
        (0,) * count,
        (False,) * count,
    )


def _display_order(text: str) -> tuple[str, list[int]]:
    """The text as displayed (right-to-left overrides reversed) and each position's origin."""
    chars = list(text)
    order = list(range(len(text)))
    for m in _RLO_RE.finditer(text):
        start, end = m.start() + 1, m.end()
        chars[start:end] = chars[start:end][::-1]
        order[start:end] = order[start:end][::-1]
    return "".join(chars), order


# --------------------------------------------------------------------------------------------
# Detection.


class _Scan:
    """One lowercased detection copy, and its reverse built only when a separator shows up."""

    def __init__(self, text: str) -> None:
        self.layers: list[_Folded] = []
        folded = text
        if not _is_normalised(folded):
            folded = self._add(folded, _fold(folded, _NON_ASCII_RE, _NON_ASCII_SPLIT_RE))
        if "&" in folded or "%" in folded:
            folded = self._add(folded, _fold(folded, _ESCAPE_RE, _ESCAPE_SPLIT_RE))
        if "-\n" in folded:
            folded = self._add(folded, _removal(folded, _HYPHEN_LF_SPLIT_RE))
        if "-\r\n" in folded:
            folded = self._add(folded, _removal(folded, _HYPHEN_CRLF_SPLIT_RE))
        # Lowercasing keeps every length once U+0130 is folded, so positions still line up.
        self.norm = folded.lower()
        self._rev: str | None = None

    def _add(self, text: str, layer: _Folded | None) -> str:
        """Keep a layer that changed something; the text as it now stands."""
        if layer is None:
            return text
        self.layers.append(layer)
        return layer.text

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span covering the detection-copy span [start, end), through every layer."""
        for layer in reversed(self.layers):
            start, end = layer.span(start, end)
        return start, end

    @property
    def rev(self) -> str:
        """The detection copy reversed, for matching local parts backwards."""
        if self._rev is None:
            self._rev = self.norm[::-1]
        return self._rev


_Found: TypeAlias = tuple[int, int, str]


def _detect(text: str) -> list[_Found]:
    """Candidates (original start, original end, address) in a text read in logical order."""
    scan = _Scan(text)
    spans: dict[tuple[int, int], str] = {}
    for local_start, domain_end, address in _candidates(scan):
        spans.setdefault((local_start, domain_end), address)
    return [(*scan.span(s, e), address) for (s, e), address in spans.items()]


def _candidates(scan: _Scan) -> Iterator[_Found]:
    """Accepted addresses in the detection copy, as (start, end, address) there."""
    norm = scan.norm
    found: _Found | None
    if "@" in norm:
        for m in _AT_RE.finditer(norm):
            found = _accept_at(scan, m)
            if found is not None:
                yield found
        for m in _AT_SPACED_RE.finditer(norm):
            found = _accept_at(scan, m)
            if found is not None:
                yield found
        if "[" in norm:
            for m in _AT_IP_RE.finditer(norm):
                found = _accept_plain(scan, m.start(), *m.span("domain"))
                if found is not None:
                    yield found
    if "[" in norm or "(" in norm or "{" in norm or "<" in norm:
        for m in _AT_BRACKET_RE.finditer(norm):
            found = _accept_spelled(scan, m)
            if found is not None:
                yield found
    if any(word in norm for word in _AT_WORDS):
        for m in _AT_WORD_RE.finditer(norm):
            found = _accept_spelled(scan, m)
            if found is not None:
                yield found


def _accept_at(scan: _Scan, m: re.Match[str]) -> _Found | None:
    """Read an `@` candidate plainly if it is plain, with the TLD list otherwise."""
    norm = scan.norm
    at = m.start()
    domain_start = m.end()
    chain = _CHAIN_RE.match(norm, domain_start)
    if chain is None:
        return None
    labels, plain_count = _labels(norm, domain_start, chain.end())
    touching = domain_start == at + 1  # nothing between the `@` and the domain
    if (
        touching
        and plain_count >= 2
        and any(_may_end_domain(norm, *labels[k]) for k in range(1, plain_count))
    ):
        # The plain start of the chain may stand alone: "john@example.com (dot) matrix".
        found = _accept_plain(scan, at, domain_start, labels[plain_count - 1][1])
        if found is not None:
            return found
    domain_end = _listed_end(norm, labels)
    if domain_end is None:
        return None
    if touching and domain_end <= labels[plain_count - 1][1] and norm[at - 1 : at] in (" ", "\t"):
        return None  # "follow @example.com": spaces before the `@` only, a mention
    return _accept_weak(scan, at, domain_start, domain_end, login_check=True)


def _accept_spelled(scan: _Scan, m: re.Match[str]) -> _Found | None:
    """Check a bracketed or bare-word candidate: listed TLD, and no sentence around "at"."""
    domain_start = m.end()
    chain = _CHAIN_RE.match(scan.norm, domain_start)
    if chain is None:
        return None
    domain_end = _listed_end(scan.norm, _labels(scan.norm, domain_start, chain.end())[0])
    if domain_end is None:
        return None
    found = _accept_weak(scan, m.start(), domain_start, domain_end, login_check=False)
    if found is None or m.re is not _AT_WORD_RE or m.group("word") != "at":
        return found  # arobase, arroba, собака... are not words of ordinary prose
    return found if _bare_at_ok(scan, domain_end, found) else None


def _labels(norm: str, start: int, end: int) -> tuple[list[tuple[int, int]], int]:
    """The label spans of a chain, and how many of them plain dots join from its start."""
    spans: list[tuple[int, int]] = []
    pos = start
    plain_count = 0
    plain = True
    for sep in _SEP_RE.finditer(norm, start, end):
        spans.append((pos, sep.start()))
        plain_count += plain
        plain = plain and sep.end() - sep.start() == 1 and norm[sep.start()] == "."
        pos = sep.end()
    spans.append((pos, end))
    return spans, plain_count + plain


def _may_end_domain(norm: str, start: int, end: int) -> bool:
    """Cheap first test of a TLD for the plain form: two characters, not starting with a digit."""
    return end - start >= 2 and not norm[start].isdigit()


def _listed_end(norm: str, labels: list[tuple[int, int]]) -> int | None:
    """End of the longest prefix of the chain, two labels or more, whose last is in TLDS."""
    for start, end in reversed(labels[1:]):
        if norm[start:end] in TLDS:
            return end
    return None


def _accept_plain(scan: _Scan, at: int, domain_start: int, domain_end: int) -> _Found | None:
    """Check a plain `local@domain.tld` candidate; None when it is not an address."""
    norm = scan.norm
    if at > 0 and norm[at - 1] == '"':
        local_m = _QUOTED_LOCAL_RE.match(scan.rev, len(norm) - at)
    else:
        local_m = _LOCAL_REV_RE.match(scan.rev, len(norm) - at)
    if local_m is None:
        return None
    local_start = _trim_local_start(norm, len(norm) - local_m.end(), at)
    if local_start is None:
        return None
    domain_end = _trim_domain_end(norm, domain_start, domain_end)
    domain = norm[domain_start:domain_end]
    if not domain.startswith("["):
        # Trailing labels that cannot end a domain are dropped: "john@example.com.5".
        while not _plain_domain_ok(domain):
            domain = domain.rpartition(".")[0]
            if "." not in domain:
                return None
        domain_end = domain_start + len(domain)
    if _is_login(scan, local_start, domain_end):
        return None
    return local_start, domain_end, _address(norm[local_start:at], domain)


def _plain_domain_ok(domain: str) -> bool:
    """A mail domain rather than a version number or a file name."""
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return False
    tld = labels[-1]
    if len(tld) < 2:
        return False
    if not tld.isalpha() and not all(ch.isalpha() or unicodedata.combining(ch) for ch in tld):
        return False
    if _is_retina(labels):
        return False
    if tld in TLDS:
        return True
    if tld in _FILE_EXTENSIONS:
        return False
    # `typescript@5.4.beta`: numbers and then an unknown name is a version tag.
    return not all(label.isdigit() for label in labels[:-1])


def _is_retina(labels: list[str]) -> bool:
    """`logo@2x.png`, `icon@1.5x.webp`: a pixel-density suffix, not a domain."""
    first = labels[0]
    if first[-1:] == "x" and first[:-1].isdigit():
        return True
    second = labels[1] if len(labels) > 2 else ""
    return first.isdigit() and second[-1:] == "x" and second[:-1].isdigit()


def _accept_weak(
    scan: _Scan, sep_start: int, domain_start: int, domain_end: int, *, login_check: bool
) -> _Found | None:
    """Read the local part before a separator, allowing spaces and spelled dots in it."""
    norm = scan.norm
    local_end = _skip_space_back(norm, sep_start)
    if local_end > 0 and norm[local_end - 1] == '"':
        local_m = _QUOTED_LOCAL_RE.match(scan.rev, len(norm) - local_end)
    else:
        local_m = _WEAK_LOCAL_REV_RE.match(scan.rev, len(norm) - local_end)
    if local_m is None:
        return None
    local_start = _trim_local_start(norm, len(norm) - local_m.end(), local_end)
    if local_start is None:
        return None
    if login_check and _is_login(scan, local_start, domain_end):
        return None
    local = _collapse(norm[local_start:local_end])
    domain = _collapse(norm[domain_start:domain_end])
    return local_start, domain_end, _address(local, domain)


def _skip_space_back(norm: str, end: int) -> int:
    """Start of the few spaces, and at most one line break, that end just before `end`."""
    i = end
    while i > 0 and end - i < 3 and norm[i - 1] in " \t":
        i -= 1
    if i > 0 and norm[i - 1] == "\n":
        i -= 1
        if i > 0 and norm[i - 1] == "\r":
            i -= 1
        stop = i
        while i > 0 and stop - i < 3 and norm[i - 1] in " \t":
            i -= 1
    return i


def _bare_at_ok(scan: _Scan, domain_end: int, found: _Found) -> bool:
    """Tell "john at example dot com" from a sentence that happens to contain "at"."""
    local_start, _, address = found
    local, _, domain = address.rpartition("@")
    first_label = domain.split(".", 1)[0]
    if local in _STOP_LOCAL or first_label in _STOP_DOMAIN or first_label == "www":
        return False
    if _URL_PATH_RE.match(scan.norm, domain_end) is not None:
        return False
    prev = _PREV_WORD_REV_RE.match(scan.rev, len(scan.norm) - local_start)
    return prev is None or prev.group("word")[::-1] not in _DETERMINERS


def _trim_local_start(norm: str, start: int, end: int) -> int | None:
    """Drop leading dots/quotes and any CJK run glued to a Latin local part."""
    while start < end and norm[start] in ".'":
        start += 1
    if start >= end:
        return None
    if norm[start] == '"' or norm[start].isascii():
        return start
    # "请联系john@..." : scripts written without spaces run straight into the address, and
    # Hebrew or Arabic prefixes are joined to it with a hyphen ("ל-dana@...").
    i = end
    while i > start and norm[i - 1].isascii():
        i -= 1
    if start < i < end and _is_unspaced_script(norm[i - 1]):
        return i
    if start < i < end - 1 and norm[i] == "-" and "\u0590" <= norm[i - 1] <= "\u06ff":
        return i + 1
    return start


def _trim_domain_end(norm: str, start: int, end: int) -> int:
    """Cut a domain where a script written without spaces follows it ("example.com谢谢")."""
    if not norm[start].isascii() or norm[start:end].isascii():
        return end
    for i in range(start, end):
        if _is_unspaced_script(norm[i]):
            while i > start and norm[i - 1] in ".-":
                i -= 1
            return i
    return end


def _is_unspaced_script(ch: str) -> bool:
    """Han, kana, hangul or Thai: scripts where words are not separated by spaces."""
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0x0E00 <= code <= 0x0E7F
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
    )


def _is_login(scan: _Scan, local_start: int, domain_end: int) -> bool:
    """`git@host:org/repo`, `user@host:~` or `scheme://user@host`: a login, not a mailbox."""
    norm = scan.norm
    if norm.startswith(":", domain_end) and _HOST_PATH_RE.match(norm, domain_end) is not None:
        return True
    if not norm.startswith("/", local_start - 1) and not norm.startswith(":", local_start - 1):
        return False
    userinfo = _USERINFO_REV_RE.match(scan.rev, len(norm) - local_start)
    if userinfo is None:
        return False
    scheme = userinfo.group("scheme") or userinfo.group("scheme2")
    return scheme != "otliam"  # "mailto" reversed


_BRACKETS_TO_SPACE = str.maketrans("[](){}<>", "        ")
_SEPARATOR_TOKENS = frozenset((".", *_DOT_WORDS))


def _collapse(part: str) -> str:
    """Spelled dots to ".", whitespace out; quoted local parts kept as they are."""
    if part.startswith('"'):
        return part
    # The regex already checked the shape: labels and separators alternate, so a dot-word is a
    # separator only where a label just ended ("example dot point dot com" keeps "point").
    out: list[str] = []
    after_label = False
    for token in part.translate(_BRACKETS_TO_SPACE).split():
        if after_label and token in _SEPARATOR_TOKENS:
            out.append(".")
            after_label = False
        else:
            out.append(token)
            after_label = not token.endswith(".")
    return "".join(out)


def _address(local: str, domain: str) -> str:
    """The normalised address: composed (NFC via NFKC) so decomposed accents compare equal."""
    address = local + "@" + domain
    return address if address.isascii() else unicodedata.normalize("NFKC", address)


def _merge(found: list[_Found]) -> list[Match]:
    """Sort and merge overlapping candidates; the longer candidate names the address."""
    found.sort(key=lambda f: (f[0], -f[1]))
    merged: list[Match] = []
    for start, end, address in found:
        if merged and start < merged[-1].end:
            last = merged[-1]
            if end > last.end:
                keep = address if end - start > last.end - last.start else last.address
                merged[-1] = Match(last.start, end, keep)
            continue
        merged.append(Match(start, end, address))
    return merged
