"""Strict parser for HTTP directory listings: BLS (IIS) and Apache/nginx `<a href>` pages.

Only links to files directly inside the listed directory are kept; everything
else (parent link, subdirectories, sort links with query strings, fragments,
other hosts or schemes, `..`, empty or duplicate names) is ignored. A page that
is not an HTML listing, lists no file, or ends without its closing `</html>` tag (a
body cut short, which HTTP cannot always tell: no Content-Length, connection closed)
raises SourceError: a partial or empty listing must never be mistaken for "the source
deleted these files".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from chalicelib.core.errors import SourceError

# IIS (download.bls.gov): `  9/4/2025  7:30 AM      1564284 <A HREF="...">name</A><br>`
_IIS_BEFORE = re.compile(
    r"(?P<time>\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*[AP]M)\s+(?P<size>\d+|<dir>)\s*$",
    re.IGNORECASE,
)
# Apache (`2024-01-31 12:00  1.2K`, also in table cells) and nginx (`31-Jan-2024 12:00  1234`).
_AFTER = re.compile(
    r"^\s*(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?|\d{2}-[A-Za-z]{3}-\d{4} \d{2}:\d{2}(?::\d{2})?)"
    r"\s+(?P<size>\d+(?:\.\d+)?[KMGTP]?|-)(?:\s|$)"
)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class ListingEntry:
    """One file of a directory listing, with the size and time text as the page shows them."""

    name: str
    url: str
    size_text: str | None = None
    time_text: str | None = None

    @property
    def size(self) -> int | None:
        """The size in bytes when the page states it exactly (IIS, nginx), else None."""
        return int(self.size_text) if self.size_text and self.size_text.isdigit() else None


@dataclass(frozen=True)
class Listing:
    """The files of one directory, in page order, and how many links were ignored."""

    url: str
    entries: tuple[ListingEntry, ...]
    ignored: int = 0

    def names(self) -> list[str]:
        """The file names, in page order."""
        return [entry.name for entry in self.entries]


class _LinkCollector(HTMLParser):
    """Collects `(href, text before the link, text after the link)` in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.links: list[tuple[str | None, str, list[str]]] = []  # href, text before, text after
        self._text: list[str] = []
        self._in_link = False
        self.closed = False  # the page's closing </html> tag was seen

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            before = "".join(self._text)
            self._text = []
            self.links.append((dict(attrs).get("href"), before, self._text))
            self._in_link = True
        elif tag in ("br", "tr", "li", "p", "div"):
            self._text.append("\n")
        elif tag in ("td", "th"):
            self._text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "html":
            self.closed = True
        elif tag == "a" and self._in_link:
            self._in_link = False
            self._text = []  # the link's own text is not "after" text
            if self.links:
                href, before, _ = self.links[-1]
                self.links[-1] = (href, before, self._text)
        elif tag in ("tr", "li", "p", "div"):
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:1024].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body", "<pre", "<table", "<a ", "<h1"))


def parse_listing(body: bytes | str, base_url: str, content_type: str | None = None) -> Listing:
    """Parse a directory listing page served at `base_url` (a URL ending in '/').

    Raises SourceError if the page is not an HTML listing, is cut short or lists no file.
    """
    if not base_url.endswith("/"):
        base_url += "/"
    links = _listing_links(body, base_url, content_type)
    base = urlsplit(base_url)
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    for href, before, after_parts in links:
        found = _file_name(href, base_url, base.scheme, base.netloc, base.path)
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        if (entry := _entry(found, base_url, before, "".join(after_parts))) is not None:
            entries.append(entry)
    if not entries:
        raise SourceError(f"{base_url}: the listing names no file (refusing to treat it as an empty directory)")
    return Listing(base_url, tuple(entries), len(links) - len(entries))


def _listing_links(
    body: bytes | str, base_url: str, content_type: str | None
) -> list[tuple[str | None, str, list[str]]]:
    """The page's links as (href, text before, text after); SourceError if it is not an HTML listing."""
    if content_type and "html" not in content_type.lower():
        raise SourceError(f"{base_url} did not return an HTML listing (Content-Type {content_type!r})")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if "\x00" in text or not _looks_like_html(text):
        raise SourceError(f"{base_url} did not return an HTML directory listing")
    collector = _LinkCollector()
    try:
        collector.feed(text)
        collector.close()
    except Exception as error:  # html.parser is lenient; this is a belt-and-braces guard
        raise SourceError(f"{base_url}: the listing page could not be parsed ({error})") from None
    if "a" not in collector.tags:
        raise SourceError(f"{base_url} did not return an HTML directory listing (no links)")
    if not collector.closed:
        raise SourceError(
            f"{base_url}: the listing page was cut short: it ends after {len(body)} bytes and "
            f"{len(collector.links)} links without its closing </html> tag; refusing a partial listing "
            "(nothing is deleted)"
        )
    return collector.links


def _entry(found: tuple[str, str], base_url: str, before: str, after: str) -> ListingEntry | None:
    """The file's entry, with the size and time printed beside its link; None for a `<dir>` row."""
    name, encoded = found
    size_text = time_text = None
    if (match := _IIS_BEFORE.search(before)) or (match := _AFTER.match(after)):
        size_text, time_text = match["size"], match["time"]
    if size_text is not None and size_text.lower() == "<dir>":
        return None
    return ListingEntry(
        name=name,
        url=base_url + encoded,
        size_text=None if size_text in (None, "-") else size_text,
        time_text=" ".join(time_text.split()) if time_text else None,
    )


def _file_name(
    href: str | None, base_url: str, scheme: str, netloc: str, directory: str
) -> tuple[str, str] | None:
    """`(name, name as in the URL)` if `href` points at a file directly inside the directory."""
    if not href or not href.strip():
        return None
    href = href.strip()
    raw = urlsplit(href)
    if raw.query or raw.fragment or "?" in href or "#" in href:
        return None
    if any(segment in (".", "..") for segment in unquote(raw.path).replace("\\", "/").split("/")):
        return None
    target = urlsplit(urljoin(base_url, href))
    if target.scheme != scheme or target.netloc.lower() != netloc.lower():
        return None
    if not target.path.startswith(directory):
        return None
    encoded = target.path[len(directory):]
    if not encoded or "/" in encoded:
        return None  # the directory itself, or a subdirectory / deeper file
    name = unquote(encoded)
    if not name or name in (".", "..") or _UNSAFE_NAME.search(name) or name != name.strip():
        return None
    return name, encoded


# A survey directory of the time-series root: a two-letter code (`ap`, `cu`, `la`, ...).
SURVEY_NAME = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class RootListing:
    """The time-series root: survey directories (name, URL), and the other directories skipped."""

    url: str
    surveys: tuple[tuple[str, str], ...]
    skipped: tuple[str, ...]


def parse_directories(body: bytes | str, base_url: str) -> list[tuple[str, str]]:
    """`(name, URL ending in '/')` of each directory directly inside `base_url`, in page order."""
    if not base_url.endswith("/"):
        base_url += "/"
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    collector = _LinkCollector()
    collector.feed(text)
    collector.close()
    found: list[tuple[str, str]] = []
    for href, _, _ in collector.links:
        if href and href.strip().endswith("/"):
            inner = _file_name(href.strip()[:-1], base_url, urlsplit(base_url).scheme,
                               urlsplit(base_url).netloc, urlsplit(base_url).path)
            if inner is not None and inner[0] not in (name for name, _ in found):
                found.append((inner[0], base_url + inner[1] + "/"))
    return found


def parse_root_listing(body: bytes | str, base_url: str, content_type: str | None = None) -> RootListing:
    """Parse the time-series root: each directory named like a survey is one; others are skipped.

    Raises SourceError if the page is not an HTML listing or names no survey directory.
    """
    if not base_url.endswith("/"):
        base_url += "/"
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if (content_type and "html" not in content_type.lower()) or "\x00" in text or not _looks_like_html(text):
        raise SourceError(f"{base_url} did not return an HTML directory listing")
    directories = parse_directories(text, base_url)
    surveys = tuple((name, url) for name, url in directories if SURVEY_NAME.match(name))
    if not surveys:
        raise SourceError(f"{base_url}: the root listing names no survey directory (refusing to treat it as empty)")
    skipped = tuple(name + "/" for name, _ in directories if not SURVEY_NAME.match(name))
    return RootListing(base_url, surveys, skipped)


__all__ = ["Listing", "ListingEntry", "RootListing", "parse_directories", "parse_listing", "parse_root_listing"]
