"""Moderator passwords: slow salted hashes, checks that never raise, generated passwords."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from moderation.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    generate_password,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

# These tests are about the hash itself: the production parameters, not the tests' cheap ones.
pytestmark = pytest.mark.real_password_hash


def test_a_password_verifies_against_its_hash_and_no_other() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(stored, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password("same password here"), hash_password("same password here")
    assert first != second  # salted
    assert verify_password(first, "same password here")
    assert verify_password(second, "same password here")


@pytest.mark.parametrize(
    "stored", ["", "not a hash", "$argon2id$v=19$m=1,t=1,p=1$xx$yy", "$2b$12$bcrypt..."]
)
def test_a_malformed_stored_hash_is_a_mismatch_not_an_exception(stored: str) -> None:
    assert verify_password(stored, "whatever password") is False
    assert needs_rehash(stored) is True


def test_a_password_that_is_not_valid_text_is_a_mismatch() -> None:
    stored = hash_password("correct horse battery")
    assert verify_password(stored, "lone \ud800 surrogate") is False
    assert password_problem("lone \ud800 surrogate") is not None


def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("a password!")
    assert verify_password(weak, "a password!")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("a password!"))


def test_generated_passwords_are_long_random_and_acceptable() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert password_problem(password) is None
        assert len(password) >= 20
        assert password.isascii()
        assert password.isprintable()


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short", f"at least {MIN_LENGTH}"),
        ("x" * (MIN_LENGTH - 1), f"at least {MIN_LENGTH}"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        ("ten chars\x00 and a NUL", "NUL"),
    ],
)
def test_unacceptable_passwords_say_why(password: str, fragment: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize("password", ["x" * MIN_LENGTH, "x" * MAX_LENGTH, "mot de passe ünï"])
def test_acceptable_passwords_have_no_problem(password: str) -> None:
    assert password_problem(password) is None
