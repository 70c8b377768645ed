"""Passwords: hashed with Argon2 (its costs from the config), and judged before they are set.

Signing in (``app.auth.tokens``) checks a password here; setting one (``app.auth.service``)
passes ``check_password_policy`` first.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn

from app.errors import Invalid


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def warm_up_login() -> None:
    """Make the unknown-user hash now, so the first such login costs what any login costs."""
    _dummy_hash(password_hasher())


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from. Without a hash (an
    unknown user) it is checked against a hash made for nothing, and is never right: the
    same time is spent either way, so timing does not reveal who exists."""
    hasher = password_hasher()
    unknown = password_hash is None
    try:
        hasher.verify(_dummy_hash(hasher) if unknown else password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return not unknown


#: zxcvbn's own ceiling: its cost grows steeply with length. A longer password is judged
#: on its first this many characters (a strong start stays strong with more after it).
STRENGTH_CHECKED_CHARACTERS = 72
#: Words of this service that an attacker tries first (NIST: context-specific words).
SERVICE_WORDS = ("safepassage", "safe", "passage", "evacuation", "evacuate", "coordinator")


def check_password_policy(password: str, username: str, full_name: str | None = None) -> None:
    """Refuse short passwords, ones made of the user's own name, and guessable ones.

    NIST SP 800-63B: no composition rules; refuse what attackers try first. zxcvbn scores
    a password against frequency lists from breached-password corpora, common words and
    names, keyboard patterns, repeats, sequences and dates, and the user's own name.
    """
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    problems = []
    if len(password) < minimum:
        problems.append(f"Use at least {minimum} characters.")
    lowered = password.lower()
    names = [username, *(full_name or "").split()]
    if any(len(name) >= 3 and name.lower() in lowered for name in names):
        problems.append("Do not use your own name or username in the password.")
    if not problems:
        judged = zxcvbn(
            password[:STRENGTH_CHECKED_CHARACTERS],
            user_inputs=[username, *(full_name or "").split(), full_name or "", *SERVICE_WORDS],
        )
        if judged["score"] < current_app.config["PASSWORD_MIN_STRENGTH"]:
            feedback = judged["feedback"]
            problems.append(
                " ".join(
                    filter(
                        None,
                        [
                            "This password is too easy to guess.",
                            feedback.get("warning"),
                            *(
                                feedback.get("suggestions")
                                or ["Use a passphrase of four or more unrelated words."]
                            ),
                        ],
                    )
                )
            )
    if problems:
        raise Invalid({"password": problems})
