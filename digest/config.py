"""The config file: TOML read with ``tomllib`` into frozen dataclasses.

Every section is a dataclass whose fields are the keys it accepts, with their types and
defaults. Unknown keys, wrong types and bad values are :class:`ConfigError` naming the file
and the key. Relative paths are resolved against the config file's folder. Secrets never
live in the file: it names environment variables (``secret_env``, ``password_env``, …).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tomllib
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .fetch.kinds import MAX_RESULTS, SOURCE_KINDS, SOURCE_NAME, reserved_params
from .fetch.urls import redact_url, url_problem
from .files import CWD_GONE, FileRefused, cwd_gone_for, read_regular_file
from .records import MAX_PAPERS, MIN_SCORE_RANGE, is_valid_min_score
from .text import plural
from .transports import TRANSPORTS

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_ENV = "DIGEST_CONFIG"
# Ten years: a longer window only slows ranking, and an unbounded one overflows dates.
MAX_LOOKBACK_DAYS = 3650


# arXiv's full-text search for papers without an id. Versions before 0.2 wrote
# ``https://arxiv.org/a/search?query={title}`` (arXiv's author-page path, which does not
# search) into every config: such a config is read as this URL, with a warning.
ARXIV_SEARCH_URL = "https://arxiv.org/search/?query={title}&searchtype=all"
BROKEN_SEARCH_URL = "https://arxiv.org/a/search?query={title}"


MAX_WORKERS = 64  # render processes of the daily run (delivery.workers)


@dataclass(frozen=True)
class StoreConfig:
    database: Path = Path("digest.db")
    cache_dir: Path = Path("cache")


@dataclass(frozen=True)
class IngestConfig:
    inbox: Path = Path("inbox")
    # Whether an arXiv cross-list ("Announce Type: cross") of a paper never seen is a new
    # paper (a candidate); false stores it as an old paper, for reference only.
    cross_lists: bool = True


@dataclass(frozen=True)
class RankingConfig:
    lookback_days: int = 7
    min_score: float = 0.05
    diversity: float = 0.7  # MMR trade-off: 1.0 = relevance only, lower = more diverse
    default_max_papers: int = 10
    trending_count: int = 5


@dataclass(frozen=True)
class EmailConfig:
    sender: str = "digest <digest@example.org>"
    list_id: str = "digest.example.org"
    base_url: str = "http://127.0.0.1:8000"
    unsubscribe_mailto: str = "unsubscribe@example.org"
    postal_address: str = ""
    subject: str = "{count} papers for you · {topics} · {date}"
    paper_url: str = "https://arxiv.org/abs/{id}"
    search_url: str = ARXIV_SEARCH_URL
    templates: Path | None = None  # a folder of the admin's own templates; None: built-in
    secret_env: str = "DIGEST_SECRET"
    secret_file: Path | None = None  # read when the environment variable is not set


@dataclass(frozen=True)
class DeliveryConfig:
    transport: str = "outbox"
    outbox: Path = Path("outbox")
    outbox_html: bool = False  # also write each message's HTML beside its .eml
    workers: int = 0  # render processes in the daily run; 0: one per core, 1: in-process


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # "none", "starttls" or "tls"
    username: str = ""
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout: float = 30.0
    rate_per_second: float = 10.0
    retries: int = 3
    backoff_seconds: float = 2.0
    max_hard_failures: int = 3
    verify_certificate: bool = True


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 7 * * mon-fri"
    timezone: str = "UTC"
    misfire_grace_seconds: int = 3600


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    admin_password_env: str = "DIGEST_ADMIN_PASSWORD"
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed; empty:
    # none, so the login limit keys on the connecting socket's address.
    trusted_proxies: tuple[str, ...] = ()
    header_timeout: float = 10.0  # seconds to send a request's headers, then disconnected
    keep_alive_timeout: int = 75  # idle seconds between requests on one connection
    max_connections: int = 1000  # connections and requests in flight; beyond: 503
    # "open": anyone may sign up at /subscribe (double opt-in); "closed": admins add people.
    signup: str = "closed"


@dataclass(frozen=True)
class FetchConfig:
    """``[fetch]``: how ``digest fetch`` talks to the sources (see :mod:`digest.fetch`)."""

    contact: str = ""  # an address for the User-Agent; empty: the address in email.sender
    timeout: float = 30.0  # seconds per attempt, the whole response included
    retries: int = 3  # more attempts after a timeout, a dropped connection, 429 or 5xx
    backoff_seconds: float = 2.0  # the first wait between attempts; doubles each time
    max_wait_seconds: float = 300.0  # a longer Retry-After is not waited for: try later
    max_source_seconds: float = 600.0  # one source's budget, all attempts and waits included
    max_bytes: int = 50 * 1024 * 1024  # a response body past this is refused


@dataclass(frozen=True)
class SourceConfig:
    """One ``[[sources]]`` table: where ``digest fetch`` collects a listing from."""

    name: str = ""
    kind: str = ""
    url: str = ""
    query: str = ""  # arxiv-api only: the search_query
    max_results: int = 100  # arxiv-api only


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``path`` is the file it came from (None for defaults)."""

    store: StoreConfig = field(default_factory=StoreConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    sources: tuple[SourceConfig, ...] = ()
    path: Path | None = None

    def secret(self, env_name: str, *, key: str) -> str:
        """Read a secret from the environment variable ``env_name`` (named by config ``key``)."""
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(
                f"{self.path or 'config'}: {key} names the environment variable {env_name}, "
                f"which is not set; export {env_name}=... before running this command"
            )
        return value

    def link_secret(self) -> str:
        """The secret that signs links and sessions: the environment variable named by
        ``email.secret_env`` if set, else the file ``email.secret_file``.

        Raises :class:`ConfigError` when neither gives one, or when it is too short to
        resist an offline guess from one emailed link.
        """
        env_name = self.email.secret_env
        value = os.environ.get(env_name, "")
        source = f"the environment variable {env_name}"
        secret_file = self.email.secret_file
        if not value and secret_file is not None:
            source = str(secret_file)
            try:
                raw = read_regular_file(secret_file, limit=MAX_CONFIG_BYTES, what="secret")
                value = raw.decode("utf-8").strip()
            except FileNotFoundError as exc:
                raise ConfigError(
                    f"{self.path or 'config'}: email.secret_file {secret_file} does not exist; "
                    f"write one with `{SECRET_COMMAND} > {secret_file}` (then chmod 600), "
                    f"or export {env_name}"
                ) from exc
            except (OSError, UnicodeDecodeError, FileRefused) as exc:
                raise ConfigError(
                    f"{self.path or 'config'}: email.secret_file {secret_file} cannot be read "
                    f"({exc}); fix its permissions, or export {env_name}"
                ) from exc
        if not value:
            return self.secret(env_name, key="email.secret_env")  # raises, naming the variable
        check_secret(value, source)
        return value


MIN_SECRET_BYTES = 32
SECRET_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def check_secret(secret: str, source: str) -> None:
    """Refuse a link secret under :data:`MIN_SECRET_BYTES`: one emailed link would let an
    attacker find a short one offline and forge any link or an admin session."""
    size = len(secret.encode("utf-8"))
    if size < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{source}: the link secret is {plural(size, 'byte')}, too short to be safe; use "
            f"{MIN_SECRET_BYTES} or more, e.g. the output of `{SECRET_COMMAND}`"
        )


# Values that are checked beyond their type: key -> (allowed values or predicate, what to say).
_CHOICES: dict[str, tuple[str, ...]] = {
    "delivery.transport": tuple(TRANSPORTS),
    "smtp.security": ("none", "starttls", "tls"),
    "web.signup": ("closed", "open"),
}


# Every number not bounded in _validate by its own rule: key -> (low, high, unit); the low
# end is exclusive for floats named in _ABOVE_LOW (a timeout of 0 means nothing), else
# inclusive. Each is also finite (_coerce refuses inf and nan): no value can hang a run.
_RANGES: dict[str, tuple[float, float, str]] = {
    "ranking.trending_count": (0, 100, ""),
    "smtp.timeout": (0, 600, "seconds"),
    "smtp.rate_per_second": (0.01, 1000, "messages a second"),
    "smtp.retries": (0, 10, ""),
    "smtp.backoff_seconds": (0, 300, "seconds"),
    "smtp.max_hard_failures": (1, 1000, ""),
    "schedule.misfire_grace_seconds": (1, 7 * 86400, "seconds"),
    "web.header_timeout": (0, 3600, "seconds"),
    "web.keep_alive_timeout": (0, 3600, "seconds"),
    "web.max_connections": (1, 100_000, ""),
    "fetch.timeout": (0, 600, "seconds"),
    "fetch.retries": (0, 10, ""),
    "fetch.backoff_seconds": (0, 300, "seconds"),
    "fetch.max_wait_seconds": (0, 3600, "seconds"),
    "fetch.max_source_seconds": (0, 6 * 3600, "seconds"),
    "fetch.max_bytes": (1024, 1024**3, "bytes"),
}
_ABOVE_LOW = frozenset(
    {
        "smtp.timeout",
        "web.header_timeout",
        "web.keep_alive_timeout",
        "fetch.timeout",
        "fetch.backoff_seconds",
        "fetch.max_wait_seconds",
        "fetch.max_source_seconds",
    }
)


def _range_problem(key: str, value: float) -> str | None:
    """What ``value`` of ``key`` should be, if it is outside :data:`_RANGES`."""
    low, high, unit = _RANGES[key]
    unit = f" {unit}" if unit else ""
    if key in _ABOVE_LOW:
        if low < value <= high:
            return None
        return f"a number of{unit} above {_number(low)} and at most {_number(high)}"
    if low <= value <= high:
        return None
    return f"{_number(low)} to {_number(high)}{unit}"


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


# Far above any config file; a config path naming /dev/zero is refused, not read forever.
MAX_CONFIG_BYTES = 1024 * 1024


def load_config(path: Path | str) -> Config:
    """Read and validate the config file at ``path``."""
    path = Path(path)
    if cwd_gone_for(path):
        raise ConfigError(f"{path}: {CWD_GONE}")
    if not path.exists():
        raise ConfigError(
            f"{path}: no config file here; run `digest init` to create one, "
            f"or pass --config PATH (or set {CONFIG_ENV})"
        )
    try:
        raw = read_regular_file(path, limit=MAX_CONFIG_BYTES, what="config")
        data = tomllib.loads(raw.decode("utf-8"))
    except FileRefused as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file and retry") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from exc
    return config_from_dict(data, path=path)


def config_from_dict(data: dict[str, Any], *, path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML, resolving relative paths against ``path``."""
    where = str(path) if path else "config"
    base = path.parent.resolve() if path else Path.cwd()
    sections: dict[str, Any] = {}
    section_types = {f.name: f for f in dataclasses.fields(Config) if f.name != "path"}
    for name, value in data.items():
        if name == "sources":
            sections[name] = _build_sources(value, where, base)
            continue
        if name not in section_types:
            known = ", ".join(f"[[{n}]]" if n == "sources" else f"[{n}]" for n in section_types)
            raise ConfigError(f"{where}: unknown section [{name}]; known sections are {known}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table (a [{name}] section)")
        section_cls = get_type_hints(Config)[name]
        sections[name] = _build_section(section_cls, name, value, where, base)
    config = Config(**sections, path=path)
    if config.email.search_url == BROKEN_SEARCH_URL:
        log.warning(
            "%s: email.search_url %r is arXiv's author-page path, not its search; using %r "
            "(change it in the config to silence this)",
            where,
            BROKEN_SEARCH_URL,
            ARXIV_SEARCH_URL,
        )
        email = dataclasses.replace(config.email, search_url=ARXIV_SEARCH_URL)
        config = dataclasses.replace(config, email=email)
    _validate(config, where)
    return config


def _build_section(cls: type, section: str, table: dict[str, Any], where: str, base: Path) -> Any:
    hints = get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in table.items():
        dotted = f"{section}.{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key {dotted}; [{section}] accepts {known}")
        values[key] = _coerce(hints[key], raw, dotted, where, base)
        if dotted in _CHOICES and values[key] not in _CHOICES[dotted]:
            allowed = ", ".join(repr(c) for c in _CHOICES[dotted])
            raise ConfigError(f"{where}: {dotted} is {raw!r}; expected one of {allowed}")
    return cls(**values)


def _build_sources(value: Any, where: str, base: Path) -> tuple[SourceConfig, ...]:
    """The ``[[sources]]`` tables, each checked like a section (``sources[N].key``)."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{where}: sources must be [[sources]] tables, one per source")
    return tuple(
        _build_section(SourceConfig, f"sources[{n}]", table, where, base)
        for n, table in enumerate(value, start=1)
    )


def _coerce(hint: Any, raw: Any, dotted: str, where: str, base: Path) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if raw == "" and type(None) in get_args(hint):
            return None  # TOML has no null: an empty string means "not set"
        return _coerce(options[0], raw, dotted, where, base)
    if origin is tuple:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{where}: {dotted} must be a list of strings, got {raw!r}")
        return tuple(raw)
    if hint is Path:
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{where}: {dotted} must be a path string, got {raw!r}")
        p = Path(raw).expanduser()
        return p if p.is_absolute() else base / p
    if hint is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"{where}: {dotted} must be true or false, got {raw!r}")
        return raw
    if hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(f"{where}: {dotted} must be a whole number, got {raw!r}")
        return raw
    if hint is float:
        # TOML allows inf and nan; no setting means either.
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ConfigError(f"{where}: {dotted} must be a finite number, got {raw!r}")
        return float(raw)
    if hint is str:
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: {dotted} must be a string, got {raw!r}")
        return raw
    raise ConfigError(f"{where}: {dotted} has an unsupported type")  # pragma: no cover


_SECTION_OF = {
    RankingConfig: "ranking",
    SmtpConfig: "smtp",
    ScheduleConfig: "schedule",
    WebConfig: "web",
    FetchConfig: "fetch",
}


def _validate(config: Config, where: str) -> None:
    def bad(key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(f"{where}: {key} is {value!r}; expected {expected}")

    r = config.ranking
    if not 1 <= r.lookback_days <= MAX_LOOKBACK_DAYS:
        raise bad("ranking.lookback_days", r.lookback_days, f"1 to {MAX_LOOKBACK_DAYS} days")
    if not is_valid_min_score(r.min_score):
        low, high = MIN_SCORE_RANGE
        raise bad("ranking.min_score", r.min_score, f"a number from {low} to {high}")
    if not 0.0 <= r.diversity <= 1.0:
        raise bad("ranking.diversity", r.diversity, "a number from 0.0 to 1.0")
    if not 1 <= r.default_max_papers <= MAX_PAPERS:
        raise bad(
            "ranking.default_max_papers",
            r.default_max_papers,
            f"1 to {MAX_PAPERS} (more papers would not fit in one email)",
        )
    for section in (r, config.smtp, config.schedule, config.web, config.fetch):
        for item in dataclasses.fields(section):
            dotted = f"{_SECTION_OF[type(section)]}.{item.name}"
            if dotted in _RANGES:
                value = getattr(section, item.name)
                problem = _range_problem(dotted, value)
                if problem is not None:
                    raise bad(dotted, value, problem)
    e = config.email
    if not e.base_url.startswith(("http://", "https://")):
        raise bad("email.base_url", e.base_url, "an http:// or https:// URL")
    for key, placeholder in (("paper_url", "{id}"), ("search_url", "{title}")):
        value = getattr(e, key)
        if not value.startswith(("http://", "https://")) or placeholder not in value:
            raise bad(f"email.{key}", value, f"an http:// or https:// URL with {placeholder}")
    if "@" not in e.sender:
        raise bad("email.sender", e.sender, 'an address such as "digest <digest@example.org>"')
    if not 0 <= config.delivery.workers <= MAX_WORKERS:
        raise bad(
            "delivery.workers",
            config.delivery.workers,
            f"0 (one per core) to {MAX_WORKERS} render processes",
        )
    s = config.smtp
    if not 1 <= s.port <= 65535:
        raise bad("smtp.port", s.port, "a port number from 1 to 65535")
    try:
        ZoneInfo(config.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad(
            "schedule.timezone", config.schedule.timezone, 'an IANA zone such as "Europe/Paris"'
        ) from exc
    if len(config.schedule.cron.split()) not in (5, 6):
        raise bad(
            "schedule.cron",
            config.schedule.cron,
            'five cron fields, e.g. "0 7 * * mon-fri" (or six, seconds first)',
        )
    w = config.web
    if not 1 <= w.port <= 65535:
        raise bad("web.port", w.port, "a port number from 1 to 65535")
    _validate_fetch(config, bad)


def _validate_fetch(config: Config, bad: Callable[[str, object, str], ConfigError]) -> None:
    """``[fetch]`` and every ``[[sources]]`` table; the kinds come from ``SOURCE_KINDS``."""
    f = config.fetch
    if f.contact and "@" not in f.contact:
        raise bad("fetch.contact", f.contact, "an email address such as digest@example.org")
    seen: set[str] = set()
    for n, source in enumerate(config.sources, start=1):
        key = f"sources[{n}]"
        if not SOURCE_NAME.fullmatch(source.name):
            raise bad(
                f"{key}.name",
                source.name,
                "a name of letters, digits, '.', '-' or '_' (up to 64; it names the "
                'inbox files), e.g. "arxiv-cs-cl"',
            )
        # Case-insensitively: on a case-insensitive file system (macOS, Windows) the two
        # would write the same inbox files.
        if source.name.lower() in seen:
            raise bad(f"{key}.name", source.name, "a name no other source has (ignoring case)")
        seen.add(source.name.lower())
        if source.kind not in SOURCE_KINDS:
            raise bad(f"{key}.kind", source.kind, "one of " + ", ".join(SOURCE_KINDS))
        problem = url_problem(source.url)
        if problem is not None:
            raise bad(f"{key}.url", redact_url(source.url), problem)
        kind = SOURCE_KINDS[source.kind]
        given = {name for name, _ in parse_qsl(urlsplit(source.url).query, keep_blank_values=True)}
        clash = [p for p in reserved_params(kind, source) if p in given]
        if clash:
            raise bad(
                f"{key}.url",
                redact_url(source.url),
                f"a URL without {', '.join(clash)} (digest sets "
                f"{'it' if len(clash) == 1 else 'them'} for a {source.kind} source"
                f"{'; pick the day with --date' if 'date' in clash else ''})",
            )
        if SOURCE_KINDS[source.kind].takes_query:
            if not source.query.strip():
                raise bad(f"{key}.query", source.query, 'an arXiv search such as "cat:cs.CL"')
            if not 1 <= source.max_results <= MAX_RESULTS:
                raise bad(f"{key}.max_results", source.max_results, f"1 to {MAX_RESULTS}")
        elif source.query:
            takers = ", ".join(name for name, k in SOURCE_KINDS.items() if k.takes_query)
            raise bad(f"{key}.query", source.query, f"no query (only {takers} sources take one)")
