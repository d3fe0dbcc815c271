"""The classifier's input: one document per comment, the same in training and serving."""

from __future__ import annotations

import sys

from moderation.features import TextInput, document


def test_every_kind_of_whitespace_reads_as_one_space() -> None:
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    odd = TextInput(f"{spaces}cheap{spaces}pills\u200b now{spaces}", f" Jean{spaces}Dupont ")
    plain = TextInput("cheap pills now", "Jean Dupont")
    assert document(odd) == document(plain)
    assert document(plain).startswith("cheap pills now\nauthorname Jean Dupont\n")


def test_author_url_and_linked_domains_are_tagged() -> None:
    doc = document(
        TextInput("Deals at https://cheap-pills.example/buy today", "", "http://Pills.Example")
    )
    assert doc.splitlines()[1:] == [
        "authorurl_pills_example",
        "linkdomain_cheap_pills_example linkdomain_pills_example",
    ]
    assert document(TextInput("no links here")).splitlines()[1:] == ["authornourl"]


def test_a_very_long_comment_is_read_up_to_its_first_20000_characters() -> None:
    head = "word " * 4_000
    assert document(TextInput(head + "tail " * 10_000)) == document(TextInput(head))
