"""Admin sign-in for ``digest serve``: the password check and CSRF tokens.

Pure helpers, no I/O: the web modules pass the clock in. Imports no other module of the
package, only :mod:`digest.errors`.

The admin password comes from the environment variable named by ``web.admin_password_env``.
It may be the password itself or a hash in Django's format,
``pbkdf2_sha256$<iterations>$<salt>$<base64 sha256 digest>``, so the environment need not
hold the clear text. Print a hash with::

    python -m digest.web.auth            # asks for the password twice
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass

from ..errors import ConfigError

PBKDF2_ALGORITHM = "pbkdf2_sha256"
PBKDF2_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
CSRF_FIELD = "csrf"


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one ``purpose`` from the instance secret, so no two uses share a key."""
    return hmac.digest(secret.encode("utf-8"), f"digest.web.{purpose}".encode(), "sha256")


MIN_PASSWORD_LENGTH = 12  # OWASP ASVS 4.0 V2.1.1: user-set passwords of at least 12 characters


def short_password_problem(value: str, *, env_name: str) -> str | None:
    """Why the admin password ``value`` (clear text or hash) is too weak to serve beyond
    loopback, or None. Only clear text can be measured: a hash was made by
    :func:`_main`, which refuses short passwords itself."""
    if value.startswith(PBKDF2_ALGORITHM + "$") or len(value) >= MIN_PASSWORD_LENGTH:
        return None
    return (
        f"{env_name} is {len(value)} characters: serving beyond this machine needs an admin "
        f"password of at least {MIN_PASSWORD_LENGTH} (or serve on 127.0.0.1)"
    )


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: str = "") -> str:
    """``password`` as a ``pbkdf2_sha256$iterations$salt$hash`` string (Django's format)."""
    salt = salt or secrets.token_hex(12)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(), iterations)
    return f"{PBKDF2_ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


@dataclass(frozen=True)
class AdminPassword:
    """The configured admin password: the clear text, or a PBKDF2 hash of it."""

    clear: bytes = b""
    iterations: int = 0
    salt: bytes = b""
    digest: bytes = b""

    @classmethod
    def parse(cls, value: str, *, env_name: str) -> AdminPassword:
        """Read the environment variable's value; a malformed hash is a :class:`ConfigError`."""
        if not value.startswith(PBKDF2_ALGORITHM + "$"):
            return cls(clear=value.encode("utf-8"))
        parts = value.split("$")
        try:
            if len(parts) != 4 or not parts[2]:
                raise ValueError("expected four $-separated parts")
            iterations = int(parts[1])
            digest = base64.b64decode(parts[3], validate=True)
            if iterations < 1 or len(digest) != 32:
                raise ValueError("bad iteration count or digest length")
        except (ValueError, binascii.Error) as exc:
            raise ConfigError(
                f"{env_name} looks like a {PBKDF2_ALGORITHM} hash but is malformed ({exc}); "
                "make one with `python -m digest.web.auth`"
            ) from exc
        return cls(iterations=iterations, salt=parts[2].encode(), digest=digest)

    def check(self, attempt: str) -> bool:
        """Whether ``attempt`` is the password, in time that does not depend on where it differs."""
        given = attempt.encode("utf-8")
        if self.iterations:
            computed = hashlib.pbkdf2_hmac("sha256", given, self.salt, self.iterations)
            return hmac.compare_digest(computed, self.digest)
        return hmac.compare_digest(given, self.clear)


def new_csrf_token() -> str:
    """A random per-session token for the admin's forms."""
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: object) -> bool:
    """Constant-time comparison of a CSRF token from the form with the expected one."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def link_csrf(key: bytes, link_token: str) -> str:
    """The CSRF token of a subscriber's form: an HMAC of the signed link token it came with.

    Tied to the link, not to a session (subscribers have none): a form posted with another
    subscriber's link token, or a made-up one, does not match.
    """
    mac = hmac.digest(key, link_token.encode("utf-8"), "sha256")
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _main() -> None:
    import getpass

    first = getpass.getpass("admin password: ")
    if len(first) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"a password of at least {MIN_PASSWORD_LENGTH} characters, please")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the passwords differ; nothing printed")
    print(hash_password(first))
    # The hint goes to stderr so that stdout is the hash alone (for scripts).
    print(
        "set web.admin_password_env's variable to this (single quotes keep the $ signs)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    _main()
