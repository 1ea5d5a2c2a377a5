"""One typed, validated settings object, read from environment variables.

The same variable names are used in `.chalice/config.json` (Lambda) and in a
shell (local runs); CLI flags override them through `Settings.from_env(**overrides)`.

This module is the only reader of `os.environ` in `chalicelib/`. Besides `Settings`
(read per invocation), three things are read once, at import, by the modules that need
them: the logging configuration (`log_config_from_env`, lenient: logging starts before
settings are checked), `API_AUTH` (`api_auth_from_env`) and what a boto3 client is built
from (`client_environment`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core.errors import ConfigError
from chalicelib.core.layout import BLS_PREFIX, DEFAULT_REPORT_DATA_KEY
from chalicelib.core.series_ids import InvalidCode, parse_period, parse_series_id

DEFAULT_DATA_STORE = "./data"
DEFAULT_BLS_SOURCE_URL = "https://download.bls.gov/pub/time.series/pr/"
DEFAULT_POPULATION_API_URL = (
    "https://api.datausa.io/tesseract/data.jsonrecords"
    "?cube=acs_yg_total_population_1&drilldowns=Year%2CNation&locale=en&measures=Population"
)

# Variables the stack sets for the Lambda functions (infra writes them; the pipeline reads them here).
LAKE_DATABASE_VARIABLE = "LAKE_GLUE_DATABASE"  # the Glue database whose partitions the lake function keeps
CONTINUATION_QUEUE_VARIABLE = "CONTINUATION_QUEUE_URL"  # where an incomplete mirror run asks for its next invocation

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The reports read one mirrored BLS data file: bls/<survey>/<file>.
_DATA_KEY = re.compile(rf"^{re.escape(BLS_PREFIX)}(?!\.\.?/)[^/\x00-\x1f]+/(?!\.\.?$)[^/\x00-\x1f]+$")


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline can be configured with (see README, "Configuration")."""

    data_store: str = DEFAULT_DATA_STORE
    bls_source_urls: tuple[str, ...] = (DEFAULT_BLS_SOURCE_URL,)
    bls_contact: str | None = None
    population_api_url: str = DEFAULT_POPULATION_API_URL
    http_concurrency: int = 4
    http_requests_per_second: float = 1.0  # new requests per second per source host
    http_timeout: float = 60.0
    http_retries: int = 4
    mass_delete_fraction: float = 0.5
    deep_check_days: int = 7  # the mirror re-verifies every file's content this often
    mirror_time_budget: float | None = None  # seconds; None: no limit (in Lambda: from the context)
    mirror_file_deadline: float = 900.0  # seconds one file's transfer may take
    report_start_year: int = 2013
    report_end_year: int = 2018
    report_series_id: str = "PRS30006032"
    report_period: str = "Q01"
    report_data_key: str = DEFAULT_REPORT_DATA_KEY
    log_level: str = "INFO"
    log_format: str | None = None  # json | text; None: text on a terminal (CLI), JSON otherwise
    lake_database: str | None = None  # LAKE_GLUE_DATABASE; None: the lake keeps no Glue catalog
    continuation_queue_url: str | None = None  # CONTINUATION_QUEUE_URL; None: no continuation is sent
    # ---- sign-in (API_AUTH=cognito; issue 22): the user pool the web API trusts. -------------
    cognito_region: str | None = None  # default: AWS_REGION
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_domain: str | None = None  # the hosted sign-in's base URL, https://<prefix>.auth.<region>.amazoncognito.com
    cognito_issuer: str | None = None  # default: https://cognito-idp.<region>.amazonaws.com/<pool id>
    cognito_jwks_url: str | None = None  # default: <issuer>/.well-known/jwks.json (an emulator serves it elsewhere)
    # ---- end of the sign-in block ------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `env` (default: `os.environ`); non-None overrides win."""
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        for name, parse in _ENV_PARSERS.items():
            value = env.get(name, "").strip()
            if value:
                field, converted = parse(name, value)
                raw[field] = converted
        if years := env.get("REPORT_YEARS", "").strip():
            raw["report_start_year"], raw["report_end_year"] = _years("REPORT_YEARS", years)
        base = cls(**raw)
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        for field_name, (flag, variable) in _FLAGS.items():
            # A flag's text goes through the same parser as its environment variable.
            if isinstance(given.get(field_name), str):
                given[field_name] = _ENV_PARSERS[variable](flag, given[field_name])[1]
        settings = replace(base, **given)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks; raises ConfigError naming the variable."""
        if self.report_start_year > self.report_end_year:
            raise ConfigError(
                "REPORT_YEARS: start year is after end year; use the form START-END, e.g. 2013-2018"
            )

    def require_contact(self) -> str:
        """The contact for the User-Agent; a one-line error if it is not set."""
        if not self.bls_contact:
            raise ConfigError(
                "BLS_CONTACT is not set: BLS refuses requests without a contact. "
                "Set it to your e-mail or URL, e.g. `export BLS_CONTACT=you@example.org` "
                "(or pass --contact)."
            )
        return self.bls_contact



def _parse_store(name: str, value: str) -> str:
    if value.startswith("s3://"):
        parts = urlsplit(value)
        bucket = parts.netloc
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket or ""):
            raise ConfigError(
                f"{name}: {value!r} has no valid bucket name; use a local folder or s3://bucket[/prefix]"
            )
        prefix = parts.path.strip("/")
        if parts.query or parts.fragment or any(s in ("", ".", "..") for s in prefix.split("/") if prefix):
            raise ConfigError(f"{name}: {value!r} is not of the form s3://bucket[/prefix]")
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if "://" in value:
        raise ConfigError(f"{name}: {value!r} is neither a local folder nor s3://bucket[/prefix]")
    return value


def _parse_source_urls(name: str, value: str) -> tuple[str, ...]:
    urls = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(
                f"{name}: {item!r} is not a directory URL; use http(s)://host/path/ "
                "(several separated by commas)"
            )
        if not parts.path.strip("/"):
            raise ConfigError(f"{name}: {item!r} has no directory path (e.g. .../time.series/pr/)")
        urls.append(item if item.endswith("/") else item + "/")
    if not urls:
        raise ConfigError(f"{name}: no URL given; use http(s)://host/path/ (several separated by commas)")
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{name}: the same URL is listed twice")
    return tuple(urls)


def _parse_contact(name: str, value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if _EMAIL.match(value) or (parts.scheme in ("http", "https") and parts.netloc):
        return value
    raise ConfigError(f"{name}: {value!r} is neither an e-mail address nor an http(s) URL")


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not an integer ({low}..{high})") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: {number} is out of range ({low}..{high})")
    return number


def _float(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a number ({low}..{high})") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: {number} is out of range ({low}..{high})")
    return number


def _years(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})\s*-\s*(\d{4})\s*", value)
    if not match:
        raise ConfigError(f"{name}: {value!r} is not a year range; use START-END, e.g. 2013-2018")
    return int(match[1]), int(match[2])


def _code(name: str, value: str, parse: Callable[[str], str]) -> str:
    """A series id or period (chalicelib.core.series_ids), named by its variable when invalid."""
    try:
        return parse(value)
    except InvalidCode as error:
        raise ConfigError(f"{name}: {error}") from None


def _pattern(name: str, value: str, pattern: re.Pattern[str], form: str) -> str:
    if not pattern.match(value):
        raise ConfigError(f"{name}: {value!r} is not {form}")
    return value


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: {value!r} is not an http(s) URL")
    return value


def _log_level(name: str, value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"{name}: {value!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


LOG_FORMATS = ("json", "text")


def _log_format(name: str, value: str) -> str:
    if value.lower() not in LOG_FORMATS:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value.lower()


# ---- sign-in (issue 22) ----------------------------------------------------------------------
_USER_POOL_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]{1,64}$")
_CLIENT_ID = re.compile(r"^[0-9A-Za-z]{1,128}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def _base_url(name: str, value: str) -> str:
    """An http(s) origin (+ optional path) without query or fragment; no trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name}: {value!r} is not an http(s) base URL (e.g. https://x.auth.us-east-1.amazoncognito.com)")
    return value.rstrip("/")


_SIGN_IN_PARSERS: dict[str, Callable[[str, str], tuple[str, Any]]] = {
    "COGNITO_REGION": lambda n, v: ("cognito_region", _pattern(n, v.strip(), _REGION, "an AWS region, e.g. us-east-1")),
    "COGNITO_USER_POOL_ID": lambda n, v: (
        "cognito_user_pool_id", _pattern(n, v.strip(), _USER_POOL_ID, "a user pool id, e.g. us-east-1_AbC123")),
    "COGNITO_CLIENT_ID": lambda n, v: (
        "cognito_client_id", _pattern(n, v.strip(), _CLIENT_ID, "an app client id (letters and digits)")),
    "COGNITO_DOMAIN": lambda n, v: ("cognito_domain", _base_url(n, v.strip())),
    "COGNITO_ISSUER": lambda n, v: ("cognito_issuer", _base_url(n, v.strip())),
    "COGNITO_JWKS_URL": lambda n, v: ("cognito_jwks_url", _base_url(n, v.strip())),
}
# ---- end of the sign-in block ------------------------------------------------------------------

_ENV_PARSERS: dict[str, Callable[[str, str], tuple[str, Any]]] = {
    "DATA_STORE": lambda n, v: ("data_store", _parse_store(n, v)),
    "BLS_SOURCE_URL": lambda n, v: ("bls_source_urls", _parse_source_urls(n, v)),
    "BLS_CONTACT": lambda n, v: ("bls_contact", _parse_contact(n, v)),
    "POPULATION_API_URL": lambda n, v: ("population_api_url", _url(n, v)),
    "HTTP_CONCURRENCY": lambda n, v: ("http_concurrency", _int(n, v, 1, 32)),
    "HTTP_REQUESTS_PER_SECOND": lambda n, v: ("http_requests_per_second", _float(n, v, 0.1, 1000)),
    "HTTP_TIMEOUT": lambda n, v: ("http_timeout", _float(n, v, 1, 900)),
    "HTTP_RETRIES": lambda n, v: ("http_retries", _int(n, v, 0, 10)),
    "MASS_DELETE_FRACTION": lambda n, v: ("mass_delete_fraction", _float(n, v, 0, 1)),
    "DEEP_CHECK_DAYS": lambda n, v: ("deep_check_days", _int(n, v, 1, 366)),
    "MIRROR_TIME_BUDGET": lambda n, v: ("mirror_time_budget", _float(n, v, 0, 366 * 86400)),
    "MIRROR_FILE_DEADLINE": lambda n, v: ("mirror_file_deadline", _float(n, v, 1, 86400)),
    "REPORT_SERIES_ID": lambda n, v: ("report_series_id", _code(n, v, parse_series_id)),
    "REPORT_PERIOD": lambda n, v: ("report_period", _code(n, v, parse_period)),
    "REPORT_DATA_KEY": lambda n, v: (
        "report_data_key",
        _pattern(n, v.strip(), _DATA_KEY, "a mirrored data file key bls/<survey>/<file>, e.g. bls/pr/pr.data.0.Current"),
    ),
    "LOG_LEVEL": lambda n, v: ("log_level", _log_level(n, v)),
    "LOG_FORMAT": lambda n, v: ("log_format", _log_format(n, v)),
    LAKE_DATABASE_VARIABLE: lambda n, v: ("lake_database", v),
    CONTINUATION_QUEUE_VARIABLE: lambda n, v: ("continuation_queue_url", v),
    **_SIGN_IN_PARSERS,
}

# Command-line flags and the variable whose parser checks them.
_FLAGS = {
    "data_store": ("--store", "DATA_STORE"),
    "bls_source_urls": ("--source", "BLS_SOURCE_URL"),
    "bls_contact": ("--contact", "BLS_CONTACT"),
    "population_api_url": ("--url", "POPULATION_API_URL"),
    "report_series_id": ("--series", "REPORT_SERIES_ID"),
    "report_period": ("--period", "REPORT_PERIOD"),
    "mirror_time_budget": ("--time-budget", "MIRROR_TIME_BUDGET"),
}


def valid_log_level(value: str | None, default: str = "INFO") -> str:
    """LOG_LEVEL's value if valid, else `default` (logging starts before settings are read)."""
    try:
        return _log_level("LOG_LEVEL", value or default)
    except ConfigError:
        return default


# ---- read once, at import, by the modules that need them ---------------------------------


@dataclass(frozen=True)
class LogConfig:
    """How logging starts (before settings are checked: an invalid value falls back, Settings reports it)."""

    level: str = "INFO"
    level_given: bool = False  # LOG_LEVEL is set (the CLI's text lines otherwise show warnings only)
    text: bool = False  # LOG_FORMAT=text, an explicit choice; JSON otherwise


def log_config_from_env(env: Mapping[str, str] | None = None) -> LogConfig:
    """LOG_LEVEL and LOG_FORMAT from `env` (default: `os.environ`), never raising."""
    env = os.environ if env is None else env
    level = env.get("LOG_LEVEL")
    return LogConfig(
        level=valid_log_level(level),
        level_given=bool((level or "").strip()),
        text=env.get("LOG_FORMAT", "").strip().lower() == "text",
    )


API_AUTH_MODES = ("iam", "cognito", "none")


def running_in_lambda(env: Mapping[str, str] | None = None) -> bool:
    """True inside a Lambda invocation (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return bool((os.environ if env is None else env).get("AWS_LAMBDA_FUNCTION_NAME"))


def api_auth_from_env(env: Mapping[str, str] | None = None) -> str:
    """`iam` (default), `cognito` or `none`, from API_AUTH; anything else is a ConfigError."""
    value = (os.environ if env is None else env).get("API_AUTH", "").strip().lower() or "iam"
    if value not in API_AUTH_MODES:
        raise ConfigError(
            f"API_AUTH: {value!r} is not one of iam, cognito, none "
            "(iam = API Gateway requires SigV4-signed IAM requests; cognito = sign in from a browser; "
            "none = public)"
        )
    return value


# What a boto3 client is built from besides DATA_STORE: a change gives a new store and client.
CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION",
                      "AWS_PROFILE", "AWS_ACCESS_KEY_ID")


def client_environment(env: Mapping[str, str] | None = None) -> tuple[str | None, ...]:
    """The values of CLIENT_ENVIRONMENT (None where unset), e.g. as part of a cache key."""
    env = os.environ if env is None else env
    return tuple(env.get(name) for name in CLIENT_ENVIRONMENT)
