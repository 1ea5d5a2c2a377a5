"""Which directories a mirror run visits: source URLs → `(survey, url)` pairs.

A source URL ending in `/time.series/` is the root: its listing names the surveys (one request);
a survey mirrored before that the root no longer lists is "vanished" (its files are removed).
See docs/every-survey.md.
"""

from __future__ import annotations

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


def survey_targets(urls: tuple[str, ...]) -> list[tuple[str, str]]:
    """`(survey, url)` for each source directory: the survey is the URL's last path segment."""
    targets: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for url in urls:
        url = url if url.endswith("/") else url + "/"
        survey = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        try:
            validate_key(survey_prefix(survey).rstrip("/"))
        except StoreError:
            raise ConfigError(f"BLS_SOURCE_URL: {url!r} does not end in a usable directory name") from None
        if survey.endswith(BOOKKEEPING_SUFFIX):
            raise ConfigError(
                f"BLS_SOURCE_URL: {url!r} would mirror to {survey_prefix(survey)}, where the mirror keeps the "
                f"bookkeeping of survey {survey[: -len(BOOKKEEPING_SUFFIX)]!r}"
            )
        if survey in seen:
            raise ConfigError(
                f"BLS_SOURCE_URL: {seen[survey]!r} and {url!r} would both mirror to {survey_prefix(survey)}"
            )
        seen[survey] = url
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
    skipped: list[str] = []
    roots = [url for url in settings.bls_source_urls if is_root(url)]
    for url in settings.bls_source_urls:
        if url not in roots:
            urls.append(url)
            continue
        response = client.get(url)
        root = parse_root_listing(response.content, url, response.headers.get("Content-Type"))
        urls.extend(survey_url for _, survey_url in root.surveys)
        skipped.extend(root.skipped)
        log_event("mirror_root_listing", source_url=url, surveys=len(root.surveys), skipped=list(root.skipped))
    targets = survey_targets(tuple(urls))
    vanished: tuple[str, ...] = ()
    if roots:
        listed = {survey for survey, _ in targets}
        vanished = tuple(name for name in stored_survey_names(store) if name not in listed)
    return Targets(targets, tuple(skipped), vanished)



__all__ = ["ROOT_SEGMENT", "Targets", "discover", "is_root", "survey_targets"]
