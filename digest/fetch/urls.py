"""Source URLs: what the config accepts, and how a URL is shown in messages.

:func:`url_problem` is the config's check of ``sources[N].url``: an http:// or https://
URL with a host, a valid port, and no whitespace or control characters anywhere (a
newline in a URL is a header injection waiting to happen, and httpx refuses it at
request time). It uses :mod:`urllib.parse` only, so reading the config does not load
httpx; ``tests/test_fetch_urls.py`` checks that every URL it accepts, ``httpx.URL``
parses too.

:func:`redact_url` is how every message, log line and report shows a URL: the userinfo
(``user:password@``) and the value of any query parameter whose name says it is a secret
(``token``, ``key``, ``api_key``, ``password``, ``secret``, ``sig``, …) become ``***``.

Pure; imports nothing from digest.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

REDACTED = "***"
# Words that mark a query parameter as a secret, matched against each word of its name
# (split at '_', '-' and '.') and against the end of the name ("apikey", "accesstoken").
SECRET_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "password",
        "passwd",
        "pwd",
        "secret",
        "sig",
        "signature",
        "auth",
        "credential",
        "credentials",
    }
)
_SECRET_ENDINGS = ("token", "key", "secret", "password", "signature")
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*\.?")
_USERINFO = re.compile(r"\A([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@")
_PARAM = re.compile(r"(^|[&;])([^=&;]*)=([^&;]*)")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a source URL (a phrase for "expected …"), or ``None``.

    Refused: whitespace or control characters (C0, DEL, C1, Unicode spaces), a scheme
    other than http/https, no host, a host that is neither an ASCII name (write an
    international name in its ``xn--`` form) nor an IP address, a port outside 1-65535.
    """
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        return "an http:// or https:// URL without spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "an http:// or https:// URL (this one cannot be parsed)"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "an http:// or https:// URL"
    host = parts.hostname
    if not (_HOST.fullmatch(host) or _is_ip_literal(parts.netloc, host)):
        return "an http:// or https:// URL whose host is a plain name or an IP address"
    if port is not None and not 1 <= port <= 65535:
        return "an http:// or https:// URL with a port from 1 to 65535"
    return None


def _is_ip_literal(netloc: str, host: str) -> bool:
    """Whether ``host`` is an IPv6 literal written in brackets."""
    import ipaddress

    if f"[{host}]" not in netloc:
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def is_secret_param(name: str) -> bool:
    """Whether a query parameter called ``name`` probably carries a secret."""
    lowered = name.lower()
    words = re.split(r"[_.\-]", lowered)
    return any(w in SECRET_WORDS for w in words) or lowered.endswith(_SECRET_ENDINGS)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and the values of secret query parameters replaced by
    ``***`` (``http://u:pw@h/x?token=t&q=1`` → ``http://***@h/x?token=***&q=1``).
    Worked on the text as given (no parsing that drops characters), so a URL with a
    control character in it is shown with it, redacted all the same."""
    url = _USERINFO.sub(rf"\1{REDACTED}@", url, count=1)
    head, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    return f"{head}?{_PARAM.sub(_redact_param, query)}{hash_mark}{fragment}"


def _redact_param(match: re.Match[str]) -> str:
    lead, name, value = match.groups()
    if value and is_secret_param(name):
        value = REDACTED
    return f"{lead}{name}={value}"


def url_secrets(url: str) -> list[str]:
    """The secret parts of ``url`` (its userinfo's password, secret query values), longest
    first, for :func:`redact_text`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or ""]
    found += [m.group(3) for m in _PARAM.finditer(parts.query) if is_secret_param(m.group(2))]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def redact_text(text: str, url: str) -> str:
    """``text`` (a message about ``url``) with every secret of ``url`` replaced by
    ``***``: a last guard for messages that quote a URL in a form :func:`redact_url`
    did not see (an exception's own text, a normalised copy)."""
    for secret in url_secrets(url):
        text = text.replace(secret, REDACTED)
    return text
