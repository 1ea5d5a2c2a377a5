"""Which directories a mirror run visits: source URLs → `(survey, url)` pairs.

A source URL ending in `/time.series/` is the root: its listing names the surveys (one request);
a survey mirrored before that the root no longer lists is "vanished" (its files are removed).
See docs/every-survey.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.core.errors import ConfigError, StoreError
from chalicelib.core.http_client import PoliteClient
from chalicelib.core.layout import BOOKKEEPING_SUFFIX, survey_prefix
from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store, validate_key
from chalicelib.mirror.listing import parse_root_listing
from chalicelib.mirror.state import stored_survey_names

ROOT_SEGMENT = "time.series"  # a source URL ending in /time.series/ is the root of all surveys


def is_root(url: str) -> bool:
    """True for the time-series root (a URL whose last path segment is `time.series`)."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] == ROOT_SEGMENT


def survey_targets(urls: tuple[str, ...], roots: Sequence[str | None] | None = None) -> list[tuple[str, str]]:
    """`(survey, url)` for each source directory: the survey is the URL's last path segment.

    `roots[i]` is the root URL whose listing named `urls[i]` (None: given as it is); errors name it."""
    targets: list[tuple[str, str]] = []
    seen: dict[str, tuple[str, bool]] = {}  # survey -> (how its URL is named in errors, from a root)
    for index, url in enumerate(urls):
        url = url if url.endswith("/") else url + "/"
        root = roots[index] if roots is not None and index < len(roots) else None
        if root is not None:
            url_text = f"{root!r} (whose listing names {url!r})"
        else:
            url_text = repr(url)
        survey = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        try:
            validate_key(survey_prefix(survey).rstrip("/"))
        except StoreError:
            raise ConfigError(f"BLS_SOURCE_URL: {url_text} does not end in a usable directory name") from None
        if survey.endswith(BOOKKEEPING_SUFFIX):
            raise ConfigError(
                f"BLS_SOURCE_URL: {url_text} would mirror to {survey_prefix(survey)}, where the mirror keeps the "
                f"bookkeeping of survey {survey[: -len(BOOKKEEPING_SUFFIX)]!r}"
            )
        if survey in seen:
            first, first_from_root = seen[survey]
            hint = " (give the root alone, or the survey URLs without it)" if root or first_from_root else ""
            raise ConfigError(
                f"BLS_SOURCE_URL: {first} and {url_text} would both mirror to {survey_prefix(survey)}{hint}")
        seen[survey] = url_text, root is not None
        targets.append((survey, url))
    return targets


@dataclass(frozen=True)
class Targets:
    """What one run mirrors: `(survey, url)` pairs, the root's skipped directories, vanished surveys."""

    surveys: list[tuple[str, str]]
    skipped: tuple[str, ...] = ()
    vanished: tuple[str, ...] = ()  # mirrored before, no longer in the root listing


def discover(settings: Settings, store: Store, client: PoliteClient) -> Targets:
    """Expand root URLs into their surveys (1 request each); plain survey URLs stay as they are."""
    urls: list[str] = []
    origins: list[str | None] = []  # the root each URL came from (None: given as it is)
    skipped: list[str] = []
    roots = [url for url in settings.bls_source_urls if is_root(url)]
    for url in settings.bls_source_urls:
        if url not in roots:
            urls.append(url)
            origins.append(None)
            continue
        response = client.get(url)
        root = parse_root_listing(response.content, url, response.headers.get("Content-Type"))
        urls.extend(survey_url for _, survey_url in root.surveys)
        origins.extend(url for _ in root.surveys)
        skipped.extend(root.skipped)
        log_event("mirror_root_listing", source_url=url, surveys=len(root.surveys), skipped=list(root.skipped))
    targets = survey_targets(tuple(urls), origins)
    vanished: tuple[str, ...] = ()
    if roots:
        listed = {survey for survey, _ in targets}
        vanished = tuple(name for name in stored_survey_names(store) if name not in listed)
    return Targets(targets, tuple(skipped), vanished)



__all__ = ["ROOT_SEGMENT", "Targets", "discover", "is_root", "survey_targets"]
