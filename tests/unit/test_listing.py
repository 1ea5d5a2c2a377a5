"""The listing parser: real BLS (IIS) pages, Apache/nginx pages, hostile links, non-listings."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import SourceError
from chalicelib.mirror.listing import ListingEntry, parse_listing
from support.paths import FIXTURES

BASE = "https://download.bls.gov/pub/time.series/pr/"
LISTINGS = FIXTURES / "bls" / "listings"
PR_FILES = [
    "pr.class", "pr.contacts", "pr.data.0.Current", "pr.data.1.AllData", "pr.duration", "pr.footnote",
    "pr.measure", "pr.period", "pr.seasonal", "pr.sector", "pr.series", "pr.txt",
]


def test_real_bls_listing_gives_every_file_with_size_and_time_text():
    # GIVEN the saved download.bls.gov listing of pr/ (2025-09-04)
    body = (LISTINGS / "pr_listing_2025-09-04.html").read_bytes()
    # WHEN it is parsed
    listing = parse_listing(body, BASE, "text/html")
    # THEN the 12 files are there, in page order, with the page's own size and time text
    assert listing.names() == PR_FILES
    assert listing.ignored == 1  # the parent directory link
    by_name = {entry.name: entry for entry in listing.entries}
    assert by_name["pr.data.0.Current"] == ListingEntry(
        "pr.data.0.Current", BASE + "pr.data.0.Current", "1564284", "9/4/2025 7:30 AM"
    )
    assert by_name["pr.data.0.Current"].size == 1564284
    assert by_name["pr.period"].time_text == "1/7/1994 2:53 PM"
    assert by_name["pr.seasonal"].time_text == "11/18/2011 3:05 PM"
    # and the sizes are those of the real files of that vintage
    vintage = FIXTURES / "bls" / "pr" / "2025-09-04"
    assert {e.name: e.size for e in listing.entries} == {p.name: p.stat().st_size for p in vintage.iterdir()}


def test_second_real_listing_parses_with_its_own_sizes():
    listing = parse_listing((LISTINGS / "pr_listing_2025-05-08_from_log.html").read_bytes(), BASE)
    assert listing.names() == PR_FILES
    sizes = {e.name: e.size for e in listing.entries}
    assert sizes["pr.data.0.Current"] == 1552889 and sizes["pr.data.1.AllData"] == 3176483
    assert {e.name: e.time_text for e in listing.entries}["pr.class"] == "5/8/2025 8:30 AM"


def test_iis_subdirectories_are_ignored():
    page = (
        '<html><body><pre><A HREF="/pub/time.series/">[To Parent Directory]</A><br><br>'
        '  1/2/2024  3:04 PM        &lt;dir&gt; <A HREF="/pub/time.series/pr/old/">old</A><br>'
        '  1/2/2024  3:04 PM          120 <A HREF="/pub/time.series/pr/pr.txt">pr.txt</A><br></pre></body></html>'
    )
    listing = parse_listing(page, BASE)
    assert listing.entries == (ListingEntry("pr.txt", BASE + "pr.txt", "120", "1/2/2024 3:04 PM"),)
    assert listing.ignored == 2


APACHE_PRE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /pub/time.series/pr</title></head><body><h1>Index of /pub/time.series/pr</h1>
<pre><a href="?C=N;O=D">Name</a>                    <a href="?C=M;O=A">Last modified</a>      <a href="?C=S;O=A">Size</a>
<hr><a href="/pub/time.series/">Parent Directory</a>                             -
<a href="pr.class">pr.class</a>                2025-09-04 08:30  102
<a href="pr.data.0.Current">pr.data.0.Current</a>       2025-09-04 08:30  1.5M
<a href="sub/">sub/</a>                    2025-09-04 08:30    -
<a href="pr%20notes.txt">pr notes.txt</a>            2025-09-04 08:30  40
</pre></body></html>"""

APACHE_TABLE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /pr</title></head><body><table>
<tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th>Size</th></tr>
<tr><td><a href="/pub/time.series/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td></tr>
<tr><td><a href="pr.class">pr.class</a></td><td align="right">2025-09-04 08:30</td><td align="right">102</td></tr>
<tr><td><a href="pr.series">pr.series</a></td><td align="right">2025-09-04 08:30</td><td align="right"> 15K</td></tr>
</table></body></html>"""

NGINX = """<html>
<head><title>Index of /pub/time.series/pr/</title></head>
<body>
<h1>Index of /pub/time.series/pr/</h1><hr><pre><a href="../">../</a>
<a href="archive/">archive/</a>                                           04-Sep-2025 08:30                   -
<a href="pr.class">pr.class</a>                                           04-Sep-2025 08:30                 102
<a href="pr.series">pr.series</a>                                          04-Sep-2025 08:30               15657
</pre><hr></body>
</html>"""


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            APACHE_PRE,
            [
                ("pr.class", "pr.class", "102", "2025-09-04 08:30"),
                ("pr.data.0.Current", "pr.data.0.Current", "1.5M", "2025-09-04 08:30"),
                ("pr notes.txt", "pr%20notes.txt", "40", "2025-09-04 08:30"),
            ],
        ),
        (
            APACHE_TABLE,
            [("pr.class", "pr.class", "102", "2025-09-04 08:30"), ("pr.series", "pr.series", "15K", "2025-09-04 08:30")],
        ),
        (
            NGINX,
            [("pr.class", "pr.class", "102", "04-Sep-2025 08:30"), ("pr.series", "pr.series", "15657", "04-Sep-2025 08:30")],
        ),
    ],
    ids=["apache-pre", "apache-table", "nginx"],
)
def test_apache_and_nginx_listings(page, expected):
    listing = parse_listing(page, BASE, "text/html; charset=UTF-8")
    assert [(e.name, e.url[len(BASE):], e.size_text, e.time_text) for e in listing.entries] == expected


def test_exact_sizes_only_where_the_page_states_bytes():
    listing = parse_listing(APACHE_PRE, BASE)
    assert [e.size for e in listing.entries] == [102, None, 40]


def test_hostile_and_irrelevant_links_are_ignored():
    # GIVEN a page mixing one good file with every kind of link that must not become a key
    hrefs = [
        "../secret",
        "/pub/time.series/pr/../cu/cu.series",
        "%2e%2e/escape",
        "..%2fescape",
        "/pub/time.series/pr/..%2F..%2Fetc%2Fpasswd",
        "http://evil.example/pub/time.series/pr/pr.class",
        "https://download.bls.gov/pub/time.series/pr/pr.class",  # other scheme
        "//evil.example/pub/time.series/pr/x",
        "ftp://download.bls.gov/pub/time.series/pr/x",
        "javascript:alert(1)",
        "mailto:ops@example.org",
        "/etc/passwd",
        "/pub/time.series/cu/cu.series",
        "/pub/time.series/pr/pr.class?download=1",
        "pr.class#top",
        "#top",
        "?C=N;O=D",
        "",
        "   ",
        "/pub/time.series/pr/",
        "/pub/time.series/pr/sub/",
        "/pub/time.series/pr/sub/file",
        "pr%2Fsub",
        "pr%5Cwin",
        "pr%00nul",
        "./",
        "/pub/time.series/pr/pr.good",
        "pr.good",  # duplicate
    ]
    links = "".join(f'<a href="{href}">x</a><br>' for href in hrefs) + "<a>no href</a>"
    base = "http://127.0.0.1:8000/pub/time.series/pr/"
    # WHEN it is parsed
    listing = parse_listing(f"<html><body><pre>{links}</pre></body></html>", base)
    # THEN only the one file directly inside the directory remains
    assert listing.entries == (ListingEntry("pr.good", base + "pr.good"),)
    assert listing.ignored == len(hrefs)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "did not return an HTML directory listing"),
        (b"series_id\tyear\tperiod\tvalue\r\nPRS30006011\t1947\tQ01\t1.0\r\n", None, "did not return an HTML"),
        (b'{"files": ["pr.class"]}', "application/json", "Content-Type 'application/json'"),
        (b"\x1f\x8b\x08\x00\x00binary", None, "did not return an HTML"),
        (b"<html><body>Service Unavailable</body></html>", "text/html", "no links"),
        (b'<html><body><a href="/pub/time.series/">[To Parent Directory]</a></body></html>', None, "names no file"),
        (b'<html><body><a href="sub/">sub/</a><a href="?C=M">M</a></body></html>', None, "names no file"),
    ],
    ids=["empty", "a-data-file", "json", "binary", "error-page", "parent-only", "subdirs-only"],
)
def test_a_non_listing_or_a_listing_without_files_is_an_error(body, content_type, message):
    with pytest.raises(SourceError) as caught:
        parse_listing(body, BASE, content_type)
    assert message in str(caught.value)
    assert BASE in str(caught.value)
