"""Properties of redaction over generated text: stable, complete, and harmless to clean text."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from moderation.redaction import find_emails, redact_emails, strip_invisible

# Every separator the detector knows needs one of these characters, or a letter that folds to
# one: no `@` or look-alike, no percent-escape or entity that could decode to one, and no
# letter from which an at-word (at, arobase, arroba, chiocciola, собака, ät...) can be spelled.
_SEPARATOR_CHARS = "@%&aAäÄаА"
_SAFE_CHARS = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=_SEPARATOR_CHARS,
).filter(lambda ch: not set(unicodedata.normalize("NFKC", ch)) & set(_SEPARATOR_CHARS))

safe_text = st.text(_SAFE_CHARS, max_size=200)

# Prose that uses "at" but no dot-word, and prose that uses dot-words but never "at": neither
# can hold an address, whatever the order of the words.
_PROSE = (
    "the comment was great and I looked over the station at noon while my friend went home "
    "with example data from google because nobody reads blogs before lunch on Monday"
)
_WORDS = _PROSE.split()
_AT_PROSE = st.lists(st.sampled_from([*_WORDS, "at", "AT", ",", "!", "?", "."]), max_size=60)
_DOT_PROSE = st.lists(
    st.sampled_from([*[w for w in _WORDS if "a" not in w], "dot", "point", "punto", "(dot)", "."]),
    max_size=60,
)

# Addresses built so that every reading of them is unambiguous: a local part with a digit is
# never a stop word, and the TLDs are real.
_TLDS = ["com", "org", "net", "fr", "de", "io", "co.uk", "info", "dev", "рф"]
local_parts = st.from_regex(r"[a-z]{2,8}[0-9]{1,3}(\.[a-z]{1,5}[0-9])?", fullmatch=True)
labels = st.from_regex(r"[a-z]{2,8}[0-9](-[a-z]{1,4})?", fullmatch=True)


@st.composite
def disguised_addresses(draw: st.DrawFn) -> tuple[str, str]:
    """(address as written, address normalised) in one of the forms the detector reads."""
    local, label, tld = draw(local_parts), draw(labels), draw(st.sampled_from(_TLDS))
    domain = f"{label}.{tld}"
    spelled_domain = domain.replace(".", " dot ")
    form = draw(st.integers(0, 7))
    written = [
        f"{local}@{domain}",
        f"{local.upper()}@{domain.upper()}",
        f"{local}%40{domain}",
        f"{local}&#64;{domain}",
        f"{local} at {spelled_domain}",
        f"{local} [at] {domain.replace('.', ' [dot] ')}",
        f"{local}＠{domain.replace('.', '．')}",
        f"{local[:1]}\u200b{local[1:]}@{domain}",
    ][form]
    return written, f"{local}@{domain}"


@given(st.text(max_size=300))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_emails(text)
    assert redact_emails(once) == once


@given(st.text(max_size=300))
def test_output_holds_no_detectable_address(text: str) -> None:
    assert find_emails(redact_emails(text)) == []


@given(st.text(st.sampled_from("ab.@ -_x[]()tdo\n%4&#;0123"), max_size=120))
def test_address_shaped_noise_is_stable_and_clean(text: str) -> None:
    once = redact_emails(text)
    assert redact_emails(once) == once
    assert find_emails(once) == []


@given(st.text(max_size=300))
def test_matches_are_ordered_disjoint_spans_of_the_text(text: str) -> None:
    matches = find_emails(text)
    previous_end = 0
    for match in matches:
        assert previous_end <= match.start < match.end <= len(text)
        assert "@" in match.address
        previous_end = match.end


@given(safe_text)
def test_text_without_addresses_comes_back_unchanged(text: str) -> None:
    assert find_emails(text) == []
    assert redact_emails(text) == strip_invisible(text)
    if strip_invisible(text) == text:
        assert redact_emails(text) == text


@given(st.one_of(_AT_PROSE, _DOT_PROSE))
def test_prose_with_at_or_dot_words_comes_back_unchanged(words: list[str]) -> None:
    text = " ".join(words)
    assert redact_emails(text) == text


@given(safe_text, disguised_addresses(), safe_text)
def test_an_address_inserted_in_random_text_is_redacted(
    before: str, address: tuple[str, str], after: str
) -> None:
    # A blank line on each side: a single line break after "word-" would be read as a word
    # hyphenated across lines and joined to the address, which is the documented behaviour.
    written, normalised = address
    assume(written not in before and written not in after)
    text = f"{before}\n\n{written}\n\n{after}"
    assert normalised in [m.address for m in find_emails(text)]
    redacted = redact_emails(text)
    assert written not in redacted
    assert normalised not in redacted.casefold()
    expected = f"{strip_invisible(before)}\n\n[email hidden]\n\n{strip_invisible(after)}"
    assert redacted == expected
