"""Password hashing: salted PBKDF2 from the standard library, enough for an example."""

import hashlib
import hmac
import secrets

_ITERATIONS = 10_000


def get_password_hash(password: str) -> str:
    """Hash ``password`` with a fresh random salt, as ``salt$digest`` in hex."""
    salt = secrets.token_hex(16)
    return f"{salt}${_digest(password, salt)}"


def verify_password(password: str, hashed_password: str) -> bool:
    salt, _, digest = hashed_password.partition("$")
    return hmac.compare_digest(_digest(password, salt), digest)


def _digest(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _ITERATIONS).hex()
