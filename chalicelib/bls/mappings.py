"""Readable titles for BLS series ids, from a mirrored survey's own mapping files.

A BLS survey directory describes each series in `<survey>.series` by codes
(`sector_code`, `measure_code`, ...), and each code column `<name>_code` has a
mapping file `<survey>.<name>` whose first two columns are the code and its text
(`pr.sector`: `3000` -> `Manufacturing`). The title of a series is those texts
joined in the order of the series file's columns. The files are small (tens of KB).
"""

from __future__ import annotations

from chalicelib.bls.series_file import read_table
from chalicelib.core.errors import NotFound
from chalicelib.core.layout import data_key, survey_prefix
from chalicelib.core.store import Store

MAX_FILE_BYTES = 8 * 1024 * 1024  # the series file of the largest surveys is a few MB
SEPARATOR = " · "


def mapping(body: bytes) -> dict[str, str]:
    """code -> text of a mapping file (its first two columns; rows without a text left out)."""
    _, rows = read_table(body)
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def code_names(body: bytes, name: str) -> dict[str, str]:
    """code -> text of mapping file `<survey>.<name>` (the gold layer's names): its `<name>_code` column
    (else the first) and its `<name>_name`/`_text`/`_title` column (else the next one). Some files put
    another column first (`la.area`: area_type_code, area_code, area_text)."""
    header, rows = read_table(body)
    if not header:
        return {}
    code = header.index(f"{name}_code") if f"{name}_code" in header else 0
    text = next((header.index(f"{name}{suffix}") for suffix in ("_name", "_text", "_title")
                 if f"{name}{suffix}" in header), code + 1)
    return {row[code]: row[text] for row in rows if len(row) > max(code, text) and row[text]}


def series_titles(store: Store, survey: str) -> dict[str, str]:
    """series_id -> title for the mirrored `survey`; empty when its files are not mirrored."""
    prefix = survey_prefix(survey)
    # One LIST says which mapping files exist: no request for the series file's other columns.
    sizes = {info.key: info.size for info in store.list(prefix)}

    def read_small(name: str) -> bytes | None:
        key = data_key(survey, f"{survey}.{name}")
        if sizes.get(key, MAX_FILE_BYTES + 1) > MAX_FILE_BYTES:
            return None
        try:
            return store.read(key).body
        except NotFound:  # deleted since the listing
            return None

    body = read_small("series")
    if body is None:
        return {}
    header, rows = read_table(body)
    if "series_id" not in header:
        return {}
    mappings: list[tuple[int, dict[str, str]]] = []
    for index, column in enumerate(header):
        name = column.removesuffix("_code")
        if column == "series_id" or not name.isidentifier():
            continue
        mapping_body = read_small(name)
        if mapping_body is None:
            continue
        texts = mapping(mapping_body)
        if texts:
            mappings.append((index, texts))
    id_index = header.index("series_id")
    titles = {}
    for row in rows:
        if len(row) != len(header):
            continue
        parts = [texts.get(row[index], "") for index, texts in mappings]
        title = SEPARATOR.join(part for part in parts if part)
        if title:
            titles[row[id_index]] = title
    return titles
