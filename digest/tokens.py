"""Signed link tokens for the links in a digest email.

Every link a subscriber can click without logging in (unsubscribe, preferences, "more like
this", "less like this", "view in browser") carries a token that names the subscriber, the
action and, for feedback, the paper (for "view", the digest's id). A sign-up's confirmation
link (``confirm``) names the pending sign-up instead of a subscriber. Tokens are signed
with itsdangerous under the instance secret, with one salt per action, so a "more" token
cannot be replayed as an "unsubscribe" token.

A token also carries the time it was issued (from the caller's ``now``, so rendering stays
deterministic); :meth:`LinkSigner.verify` can reject old tokens with ``max_age_seconds``.
Unsubscribe links should not expire: RFC 8058 and anti-spam laws expect them to keep working.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import hmac
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from itsdangerous import BadData, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode, want_bytes

from .errors import TokenError

ACTIONS = ("unsubscribe", "preferences", "more", "less", "view", "confirm")
FEEDBACK_ACTIONS = ("more", "less")

# The path each action is served under by `digest serve`; both feedback actions share one
# route because the token itself says which one it is.
_ROUTES = {
    "unsubscribe": "unsubscribe",
    "preferences": "preferences",
    "more": "feedback",
    "less": "feedback",
    "view": "d",
    "confirm": "confirm",
}

_SALT_PREFIX = "digest.link."


@dataclass(frozen=True)
class LinkClaims:
    """What a verified token says: who clicked, which action, and for which paper.

    For ``view`` tokens ``paper_id`` holds the digest's id (as text); for ``confirm``
    tokens ``subscriber_id`` is the pending sign-up's id.
    """

    subscriber_id: int
    action: str
    paper_id: str | None
    issued_at: int = 0  # Unix seconds


# A 10-paper digest signs 22 tokens, so signing speed matters to the daily run. The two
# classes below produce exactly what stock itsdangerous produces (a test checks that a stock
# URLSafeSerializer verifies our tokens) at a quarter of the cost.


class _FastSigner(Signer):
    """itsdangerous's default Signer (HMAC-SHA1, django-concat key derivation), faster.

    Stock Signer derives the key again for every token and runs HMAC through the pure
    Python ``hmac.new`` path; this derives it once and signs with ``hmac.digest`` (one C
    call). Verification is left to the stock code.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key = super().derive_key()

    @property
    def key(self) -> bytes:
        """The derived signing key."""
        return self._key

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._key if secret_key is None else super().derive_key(secret_key)

    def get_signature(self, value: str | bytes) -> bytes:
        return urlsafe_b64encode(hmac.digest(self._key, want_bytes(value), "sha1")).rstrip(b"=")


class _UncompressedSerializer(URLSafeSerializer):
    """URLSafeSerializer that reuses one signer and skips the zlib attempt on dump.

    Our payloads are ~40 bytes, so compression never wins, yet trying it was 3/4 of the cost
    of a token. Loading still accepts compressed input.
    """

    def __init__(self, secret: str, *, salt: str) -> None:
        super().__init__(secret, salt=salt, signer=_FastSigner)
        self._signer: _FastSigner = super().make_signer()  # type: ignore[assignment]

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._signer if salt is None else super().make_signer(salt)

    @property
    def signer_key(self) -> bytes:
        """The derived key the signer signs with (HMAC-SHA1)."""
        return self._signer.key

    def dumps(self, obj: Any, salt: str | bytes | None = None) -> str:
        if salt is not None:
            return super().dumps(obj, salt)
        # Serializer.dumps -> Signer.sign, with the layers of want_bytes() calls flattened.
        payload = self.dump_payload(obj)
        return (payload + b"." + self._signer.get_signature(payload)).decode("ascii")

    def dump_payload(self, obj: Any) -> bytes:
        # The JSON itsdangerous would write for our [int, int, str?] lists, without json.dumps'
        # Python-level setup (a third of the remaining cost).
        if isinstance(obj, list) and all(type(v) in (int, str) for v in obj):
            json = ",".join(str(v) if type(v) is int else encode_basestring(v) for v in obj)
            return urlsafe_b64encode(f"[{json}]".encode()).rstrip(b"=")  # = base64_encode
        return base64_encode(self.serializer.dumps(obj, **self.serializer_kwargs))


NONE = type(None)
_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64 -> base64url (RFC 4648 section 5)


def _b64url(data: bytes) -> bytes:
    """``data`` in unpadded base64url: what itsdangerous' ``base64_encode`` writes."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class _HmacSha1:
    """HMAC-SHA1 under one key, the key's two padded blocks hashed once (RFC 2104).

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)); both prefixes are one 64-byte block,
    so their SHA-1 states are computed here and copied per message, as the stdlib's
    ``hmac.HMAC.copy`` does, without its per-call lookups (``hmac.digest`` fetches the
    algorithm on every call): ~0.6 µs a token instead of ~1.8. The same bytes as
    ``hmac.digest(key, message, "sha1")`` (a test checks it).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha1().block_size
        if len(key) > block:  # RFC 2104: a longer key is hashed first
            key = hashlib.sha1(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha1(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha1(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        """HMAC-SHA1 of ``message``: 20 bytes."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        expected = ", ".join(repr(a) for a in ACTIONS)
        raise TokenError(f"unknown link action {action!r}; expected one of {expected}")


def _unix(moment: datetime.datetime | None) -> int:
    if moment is None:
        return int(time.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)  # naive means UTC throughout digest
    return int(moment.timestamp())


class LinkSigner:
    """Signs and verifies link tokens under one secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise TokenError(
                "the link-signing secret is empty; set the environment variable named by "
                "email.secret_env to a long random string"
            )
        self._secret = secret
        self._serializers = {
            action: _UncompressedSerializer(secret, salt=_SALT_PREFIX + action)
            for action in ACTIONS
        }
        # action -> HMAC under its signing key, for the flattened path in sign() and
        # SubscriberLinks (a digest signs ~22 links; the serializer's layers were half of
        # each one's cost).
        self._hmacs = {action: _HmacSha1(s.signer_key) for action, s in self._serializers.items()}
        self._prefixes: dict[str, dict[str, str]] = {}  # base URL -> action -> URL prefix

    def __reduce__(self) -> tuple[type[LinkSigner], tuple[str]]:
        # Pickled for the daily run's render workers (digest.render.pool): rebuilt there.
        return (LinkSigner, (self._secret,))

    def __repr__(self) -> str:
        return "LinkSigner(<secret>)"  # never the secret, in a log or a traceback

    def sign(
        self,
        subscriber_id: int,
        action: str,
        paper_id: str | None = None,
        *,
        issued_at: datetime.datetime | None = None,
    ) -> str:
        """A URL-safe token for ``action`` by ``subscriber_id`` (on ``paper_id`` for feedback).

        ``issued_at`` defaults to the current time; the renderer passes its ``now``.
        """
        mac = self._hmacs.get(action)
        if mac is None or type(subscriber_id) is not int or type(paper_id) not in (str, NONE):
            _check_action(action)  # raises for an unknown action
            payload: list[int | str] = [subscriber_id, _unix(issued_at)]
            if paper_id is not None:
                payload.append(paper_id)
            return self._serializers[action].dumps(payload)
        # What _UncompressedSerializer.dumps writes for [id, time(, paper)], flattened:
        # base64url(JSON) "." base64url(HMAC-SHA1), unpadded (tests verify these tokens
        # with itsdangerous's own URLSafeSerializer).
        paper = "" if paper_id is None else "," + encode_basestring(paper_id)
        value = _b64url(f"[{subscriber_id},{_unix(issued_at)}{paper}]".encode())
        return (value + b"." + _b64url(mac.digest(value))).decode("ascii")

    def links(
        self, base_url: str, subscriber_id: int, *, issued_at: datetime.datetime
    ) -> SubscriberLinks:
        """The link URLs of one subscriber's digest under ``base_url``, all issued at
        ``issued_at``: each the :func:`link_url` of a :meth:`sign` token."""
        prefixes = self._prefixes.get(base_url)
        if prefixes is None:  # one base URL per renderer: made once
            base = base_url.rstrip("/")
            prefixes = {action: f"{base}/{route}/" for action, route in _ROUTES.items()}
            kept = self._prefixes if len(self._prefixes) < 8 else {}
            self._prefixes = {**kept, base_url: prefixes}
        return SubscriberLinks(self, base_url, prefixes, subscriber_id, _unix(issued_at))

    def verify(
        self,
        token: str,
        action: str,
        *,
        max_age_seconds: int | None = None,
        now: datetime.datetime | None = None,
    ) -> LinkClaims:
        """Check ``token`` was signed by us for ``action`` and return what it says.

        Raises :class:`TokenError` if the token is malformed, tampered with, made for another
        action, or (with ``max_age_seconds``) older than that at ``now`` (default: the clock).
        The caller must still check the subscriber id against whatever else it knows.
        """
        _check_action(action)
        try:
            payload = self._serializers[action].loads(token)
        except BadData as exc:
            raise TokenError(_invalid(action)) from exc
        return _checked(_claims(payload, action), max_age_seconds, now)

    def verify_feedback(
        self,
        token: str,
        *,
        max_age_seconds: int | None = None,
        now: datetime.datetime | None = None,
    ) -> LinkClaims:
        """Verify a token from the shared ``/feedback/{token}`` route ("more" or "less")."""
        error: BadData | None = None
        for action in FEEDBACK_ACTIONS:
            try:
                payload = self._serializers[action].loads(token)
            except BadData as exc:
                error = exc
                continue
            return _checked(_claims(payload, action), max_age_seconds, now)
        raise TokenError(_invalid("feedback")) from error


class SubscriberLinks:
    """The signed link URLs in one subscriber's digest (made by :meth:`LinkSigner.links`).

    Each URL is ``link_url(base_url, action, signer.sign(subscriber_id, action, paper_id,
    issued_at=...))``, byte for byte; what a digest's ~22 tokens share (the subscriber,
    the time, the URL prefixes) is worked out once, and a paper's "more" and "less" links
    share their payload (the action is in the key, not in the payload).
    """

    __slots__ = (
        "_base",
        "_fast",
        "_head",
        "_hmacs",
        "_issued_at",
        "_prefixes",
        "_signer",
        "_subscriber_id",
    )

    def __init__(
        self,
        signer: LinkSigner,
        base_url: str,
        prefixes: dict[str, str],
        subscriber_id: int,
        issued_at: int,
    ) -> None:
        self._signer = signer
        self._hmacs = signer._hmacs
        self._subscriber_id = subscriber_id
        self._issued_at = issued_at
        self._fast = type(subscriber_id) is int
        self._head = f"[{subscriber_id},{issued_at}"
        self._base = base_url
        self._prefixes = prefixes  # action -> link_url(base_url, action, "")

    def url(self, action: str, paper_id: str | None = None) -> str:
        """The URL for ``action`` (on ``paper_id`` for feedback, the digest's id for
        "view"). Raises :class:`TokenError` for an unknown action."""
        prefix = self._prefixes.get(action)
        if prefix is None or not self._fast or type(paper_id) not in (str, NONE):
            moment = datetime.datetime.fromtimestamp(self._issued_at, datetime.UTC)
            token = self._signer.sign(self._subscriber_id, action, paper_id, issued_at=moment)
            return link_url(self._base, action, token)
        paper = "" if paper_id is None else "," + encode_basestring(paper_id)
        value = _b64url(f"{self._head}{paper}]".encode())
        signature = _b64url(self._hmacs[action].digest(value))
        return f"{prefix}{value.decode('ascii')}.{signature.decode('ascii')}"

    def feedback_urls(self, paper_id: str) -> tuple[str, str]:
        """The "more like this" and "less like this" URLs for ``paper_id``."""
        if not self._fast or type(paper_id) is not str:
            return self.url("more", paper_id), self.url("less", paper_id)
        value = _b64url(f"{self._head},{encode_basestring(paper_id)}]".encode())
        text = value.decode("ascii")
        hmacs = self._hmacs
        more = _b64url(hmacs["more"].digest(value)).decode("ascii")
        less = _b64url(hmacs["less"].digest(value)).decode("ascii")
        prefix = self._prefixes["more"]  # "less" shares the route
        return f"{prefix}{text}.{more}", f"{prefix}{text}.{less}"


def _invalid(action: str) -> str:
    return (
        f"this {action} link is not valid: it was changed, cut short, or made for another "
        "purpose; use the link from your latest digest email"
    )


def _checked(
    claims: LinkClaims, max_age_seconds: int | None, now: datetime.datetime | None
) -> LinkClaims:
    if max_age_seconds is not None:
        age = _unix(now) - claims.issued_at
        if age > max_age_seconds:
            raise TokenError(
                f"this {claims.action} link has expired (it is {age} seconds old, the limit "
                f"is {max_age_seconds}); use the link from your latest digest email"
            )
    return claims


def _claims(payload: Any, action: str) -> LinkClaims:
    # The signature is good, so a bad shape means a token from an incompatible version.
    ok = (
        isinstance(payload, list)
        and len(payload) in (2, 3)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in payload[:2])
        and (len(payload) == 2 or isinstance(payload[2], str))
    )
    if not ok:
        raise TokenError(
            f"this {action} link was made by an incompatible version of digest; "
            "use the link from your latest digest email"
        )
    paper_id = payload[2] if len(payload) == 3 else None
    return LinkClaims(
        subscriber_id=payload[0], action=action, paper_id=paper_id, issued_at=payload[1]
    )


def link_url(base_url: str, action: str, token: str) -> str:
    """The URL `digest serve` answers for ``action`` with ``token`` under ``base_url``."""
    _check_action(action)
    return f"{base_url.rstrip('/')}/{_ROUTES[action]}/{token}"
