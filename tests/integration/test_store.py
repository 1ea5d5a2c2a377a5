"""The store contract: every test runs unchanged against the local folder and S3 (moto)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os

import pytest

from chalicelib.core.errors import InvalidKey, NotFound, PreconditionFailed, StoreError
from chalicelib.core.store import PART_SIZE, LocalStore, ObjectInfo, S3Store, StoreLocation, open_store

BAD_KEYS = ["../x", "/etc/passwd", "a//b", "a/../../b", "./a", "a/", "", "a\\b", "a/\x00b", "..", "a/.."]


def test_put_then_read_round_trip_with_metadata(store):
    # GIVEN an empty store
    # WHEN an object is written with metadata and a content type
    etag = store.put("bls/pr/pr.series", b"hello\r\n", metadata={"SHA256": "abc"}, content_type="text/plain")
    # THEN it reads back byte for byte, with lower-case metadata and the same ETag
    obj = store.read("bls/pr/pr.series")
    assert obj.body == b"hello\r\n"
    assert obj.etag == etag == hashlib.md5(b"hello\r\n").hexdigest()
    assert obj.metadata == {"sha256": "abc"}
    head = store.head("bls/pr/pr.series")
    assert (head.size, head.content_type, head.metadata) == (7, "text/plain", {"sha256": "abc"})


def test_list_returns_sorted_keys_sizes_etags_under_prefix(store):
    store.put("bls/pr/b", b"22")
    store.put("bls/pr/a", b"1")
    store.put("bls/cu/c", b"333")
    store.put("population/population.json", b"{}")
    assert list(store.list("bls/pr/")) == [
        ObjectInfo("bls/pr/a", 1, hashlib.md5(b"1").hexdigest()),
        ObjectInfo("bls/pr/b", 2, hashlib.md5(b"22").hexdigest()),
    ]
    assert [o.key for o in store.list()] == ["bls/cu/c", "bls/pr/a", "bls/pr/b", "population/population.json"]
    assert [o.key for o in store.list("bls/")] == ["bls/cu/c", "bls/pr/a", "bls/pr/b"]
    assert list(store.list("nothing/")) == []


def test_list_with_a_partial_name_prefix_and_start_after(store):
    # GIVEN keys of surveys whose names share a start, and bookkeeping beside them
    for key in ("bls/pr-x/a", "bls/pr.a/b", "bls/pr.mirror/state.json", "bls/pr/a", "bls/prx/a", "bls/cu/a"):
        store.put(key, b"x")
    # THEN a prefix that is not a folder matches by characters, in key (byte) order
    assert [o.key for o in store.list("bls/pr")] == [
        "bls/pr-x/a", "bls/pr.a/b", "bls/pr.mirror/state.json", "bls/pr/a", "bls/prx/a"]
    # AND start_after skips every key up to and including it
    assert [o.key for o in store.list("bls/pr", start_after="bls/pr.mirror")] == [
        "bls/pr.mirror/state.json", "bls/pr/a", "bls/prx/a"]
    assert [o.key for o in store.list("bls/", start_after="bls/pr/a")] == ["bls/prx/a"]


def test_local_list_skips_a_file_deleted_while_listing(local_store, monkeypatch):
    from chalicelib.core.store import local

    # GIVEN two objects, one deleted by another process between the scan of its folder and its metadata read
    local_store.put("bls/pr/a", b"1")
    local_store.put("bls/pr/b", b"2")
    real_scandir = os.scandir

    def racing_scandir(fd):
        entries = list(real_scandir(fd))
        if "b" in [entry.name for entry in entries] and "a" in [entry.name for entry in entries]:
            os.unlink(local_store.root / "bls" / "pr" / "b")
        return contextlib.nullcontext(iter(entries))

    monkeypatch.setattr(local.os, "scandir", racing_scandir)
    # THEN the listing holds the other one, as S3's would, instead of failing
    assert [o.key for o in local_store.list("bls/")] == ["bls/pr/a"]


def test_streaming_read(store):
    body = os.urandom(3 * 1024 * 1024 + 17)
    store.put("big/file", io.BytesIO(body))
    with store.open("big/file") as stream:
        chunks = []
        while chunk := stream.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == body


def test_streaming_write_larger_than_one_part_is_stored_exactly(store):
    # GIVEN a body of two parts and a bit (multipart on S3)
    body = os.urandom(2 * PART_SIZE + 1234)
    # WHEN it is written from a stream
    store.put("big/multipart", io.BytesIO(body), metadata={"sha256": hashlib.sha256(body).hexdigest()})
    # THEN the stored object is identical and listed with its full size
    with store.open("big/multipart") as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(body).digest()
    assert [o.size for o in store.list("big/")] == [len(body)]
    assert store.head("big/multipart").metadata["sha256"] == hashlib.sha256(body).hexdigest()


def test_missing_object_is_not_found(store):
    with pytest.raises(NotFound):
        store.head("nope")
    with pytest.raises(NotFound):
        store.read("nope")
    with pytest.raises(NotFound), store.open("nope"):
        pass
    assert store.exists("nope") is False


def test_create_only_write(store):
    store.put("_state/lock", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("_state/lock", b"2", if_none_match=True)
    assert store.read("_state/lock").body == b"1"


def test_if_match_write_replaces_only_the_version_read(store):
    first = store.put("_state/mirror.json", b'{"v": 1}')
    second = store.put("_state/mirror.json", b'{"v": 2}', if_match=first)
    with pytest.raises(PreconditionFailed):
        store.put("_state/mirror.json", b'{"v": 3}', if_match=first)
    assert store.read("_state/mirror.json").body == b'{"v": 2}'
    assert store.read("_state/mirror.json").etag == second


def test_if_match_on_missing_object_fails(store):
    with pytest.raises((PreconditionFailed, NotFound)):
        store.put("_state/none.json", b"x", if_match="d41d8cd98f00b204e9800998ecf8427e")
    assert not store.exists("_state/none.json")


def test_batch_delete_ignores_absent_keys(store):
    for name in ("a", "b", "c"):
        store.put(f"bls/pr/{name}", name.encode())
    store.delete_many(["bls/pr/a", "bls/pr/c", "bls/pr/absent"])
    assert [o.key for o in store.list()] == ["bls/pr/b"]
    store.delete_many([])


def test_batch_delete_of_more_than_one_request(store):
    keys = [f"many/{i:04d}" for i in range(1005)]
    for key in keys:
        store.put(key, b"")
    store.delete_many(keys)
    assert list(store.list("many/")) == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_rejected_everywhere(store, key):
    # A bad key is an error on every operation, never silently fixed.
    with pytest.raises(InvalidKey):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.head(key)
    with pytest.raises(InvalidKey):
        store.delete_many([key])
    assert list(store.list()) == []


def test_bad_list_prefix_is_rejected(store):
    with pytest.raises(InvalidKey):
        list(store.list("../"))


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("s3://bucket", StoreLocation("bucket", "")),
        ("s3://bucket/mirror/dev/", StoreLocation("bucket", "mirror/dev")),
        ("./data", StoreLocation(None, "")),
    ],
)
def test_a_store_says_where_its_objects_are(url, location):
    # GIVEN a DATA_STORE value WHEN its store is opened THEN its location is the bucket and prefix (a folder has none)
    assert open_store(url).location == location


# ---------------------------------------------------------------- local folder specifics


def test_local_objects_are_plain_files_and_metadata_survives_restart(tmp_path):
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.class", b"class\r\n", metadata={"source-url": "http://x/pr.class"})
    assert (tmp_path / "data" / "bls" / "pr" / "pr.class").read_bytes() == b"class\r\n"
    reopened = open_store(str(tmp_path / "data"))
    assert reopened.head("bls/pr/pr.class").metadata == {"source-url": "http://x/pr.class"}
    assert [o.key for o in reopened.list()] == ["bls/pr/pr.class"]


def test_local_reserved_folder_is_not_a_key(tmp_path):
    store = LocalStore(tmp_path / "data")
    with pytest.raises(InvalidKey):
        store.put(".store/meta/x", b"x")


def test_local_out_of_band_edit_changes_the_etag(tmp_path):
    # GIVEN an object edited by hand with a different size
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.class", b"class\r\n")
    (tmp_path / "data" / "bls" / "pr" / "pr.class").write_bytes(b"edited by hand\n")
    # THEN the listing shows the file's real size and ETag
    [info] = store.list("bls/")
    assert (info.size, info.etag) == (15, hashlib.md5(b"edited by hand\n").hexdigest())


def test_local_symlink_escape_is_rejected(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "data"
    root.mkdir()
    (root / "link").symlink_to(outside)
    store = LocalStore(root)
    with pytest.raises(InvalidKey):
        store.put("link/x", b"x")
    assert list(outside.iterdir()) == []


def test_local_failed_write_leaves_previous_object(tmp_path):
    store = LocalStore(tmp_path / "data")
    store.put("population/population.json", b'{"ok": 1}')

    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        store.put("population/population.json", Broken())
    assert json.loads(store.read("population/population.json").body) == {"ok": 1}
    assert not any((tmp_path / "data" / ".store" / "tmp").iterdir())


def test_local_write_under_a_key_that_is_a_file_is_a_store_error_naming_the_key(tmp_path):
    # GIVEN an object stored at "bls/pr" (a file where a folder would have to be)
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr", b"an object")
    # WHEN an object is written below it
    with pytest.raises(StoreError, match="'bls/pr/pr.class'"):
        store.put("bls/pr/pr.class", b"class\r\n")
    # THEN the failure is the store's own error naming the key, the object is intact, no temp file is left
    with pytest.raises(StoreError, match="'bls/pr/x/y'"):
        store.put("bls/pr/x/y", b"deeper")
    assert store.read("bls/pr").body == b"an object"
    assert not store.exists("bls/pr/pr.class")
    assert [o.key for o in store.list()] == ["bls/pr"]
    assert not any((tmp_path / "data" / ".store" / "tmp").iterdir())
    # AND writing over a key that is a folder of other objects fails the same way
    store2 = LocalStore(tmp_path / "other")
    store2.put("a/b", b"1")
    with pytest.raises(StoreError, match="'a'"):
        store2.put("a", b"2")
    assert not any((tmp_path / "other" / ".store" / "tmp").iterdir())
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "other" / ".store" / "meta").rglob("*"))


def test_local_disk_full_is_a_store_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import errno

    # GIVEN a store whose disk fills up while an object is written
    store = LocalStore(tmp_path / "data")
    store.put("population/population.json", b'{"ok": 1}')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("chalicelib.core.store.local.os.fsync", full)
    # WHEN an object is written
    with pytest.raises(StoreError) as error:
        store.put("population/population.json", b'{"ok": 2}')
    # THEN the error names the key and the reason, the old object stays, and no temp file is left
    assert "'population/population.json'" in str(error.value) and "No space left" in str(error.value)
    monkeypatch.undo()
    assert json.loads(store.read("population/population.json").body) == {"ok": 1}
    assert not any((tmp_path / "data" / ".store" / "tmp").iterdir())


def test_local_delete_refused_by_the_os_is_a_store_error_naming_the_key(tmp_path, monkeypatch):
    from chalicelib.core.store import local

    # GIVEN a stored object the operating system refuses to delete
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.txt", b"txt")
    real_unlink = os.unlink

    def refuse(path, *args, **kwargs):
        if path == "pr.txt":
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(local.os, "unlink", refuse)
    # WHEN it is deleted
    with pytest.raises(StoreError, match="'bls/pr/pr.txt'.*Permission denied"):
        store.delete_many(["bls/pr/pr.txt"])
    # THEN (and keys that are absent, below a file, or folders are still no error)
    monkeypatch.undo()
    store.put("bls/cu", b"cu")
    store.delete_many(["bls/cu/below-a-file", "bls/pr", "nothing/here"])
    assert [o.key for o in store.list()] == ["bls/cu", "bls/pr/pr.txt"]


def test_local_head_below_a_file_is_not_found(tmp_path):
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr", b"x")
    with pytest.raises(NotFound):
        store.head("bls/pr/pr.class")
    assert store.exists("bls/pr/pr.class") is False


def test_s3_list_of_a_missing_bucket_is_a_store_error_naming_the_bucket(s3_store):
    # GIVEN a store on a bucket that does not exist
    missing = S3Store("no-such-bucket-here", "mirror", client=s3_store.client)
    # WHEN it is listed (the request happens while the pages are read)
    # THEN the error is the store's own, naming the bucket, not a raw botocore error
    with pytest.raises(StoreError, match="no-such-bucket-here"):
        list(missing.list("bls/pr/"))
    with pytest.raises(StoreError, match="no-such-bucket-here"):
        missing.put("bls/pr/x", b"x")


def test_s3_store_keys_stay_under_the_prefix(s3_store):
    s3_store.put("bls/pr/x", b"x")
    raw = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["mirror/bls/pr/x"]


def test_s3_put_with_a_known_sha256_sends_it_instead_of_a_checksum_of_its_own(s3_store, tmp_path):
    import base64

    body = b"PRS30006032\t2024\tQ01\t1.234\r\n" * 50_000  # over 1 MiB: a streamed file PUT
    digest = hashlib.sha256(body).digest()
    sent: list[dict[str, str]] = []
    s3_store.client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: sent.append({k.lower(): v for k, v in request.headers.items() if "checksum" in k.lower()}),
    )
    path = tmp_path / "spool"
    path.write_bytes(body)
    with open(path, "rb") as spool:
        etag = s3_store.put("bls/pr/big", spool, sha256=digest.hex())
    assert etag == hashlib.md5(body).hexdigest()
    # S3 verifies the body against the SHA-256 the caller computed; botocore adds no CRC32 pass.
    assert sent == [{"x-amz-sdk-checksum-algorithm": b"SHA256", "x-amz-checksum-sha256": base64.b64encode(digest)}]
    head = s3_store.client.head_object(Bucket=s3_store.bucket, Key="mirror/bls/pr/big", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()
    with s3_store.open("bls/pr/big") as stream:
        assert stream.read() == body


def test_local_concurrent_writers_of_one_key_never_fail(tmp_path):
    # GIVEN several threads writing the same key at once (two mirror runs, say)
    from concurrent.futures import ThreadPoolExecutor

    store = LocalStore(tmp_path / "data")
    bodies = [f"version {i}\r\n".encode() for i in range(8)]

    def write(body: bytes) -> None:
        for _ in range(25):
            store.put("bls/pr/pr.class", body, metadata={"sha256": hashlib.sha256(body).hexdigest()})

    # WHEN they all finish
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, bodies))
    # THEN every write succeeded and the object is one whole version with its own metadata
    obj = store.read("bls/pr/pr.class")
    assert obj.body in bodies
    assert obj.metadata["sha256"] == hashlib.sha256(obj.body).hexdigest()
    assert not any((tmp_path / "data" / ".store" / "tmp").iterdir())


# --------------------------------------------------------------------------- issue 19, point 11: never outside the folder


@pytest.fixture
def outside(tmp_path):
    """A folder beside the store, with a file a sidecar or an object could be mistaken for."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "x.json").write_text('{"keep": true}')
    (folder / "secret").write_bytes(b"outside bytes")
    return folder


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


def test_local_a_symlinked_sidecar_folder_is_never_written_or_deleted_through(tmp_path, outside):
    # GIVEN a store whose sidecar folder .store/meta/bls is a link to a folder outside
    store = LocalStore(tmp_path / "data")
    store.put("population/p.json", b"{}")  # makes .store/meta
    (tmp_path / "data" / ".store" / "meta" / "bls").symlink_to(outside)
    before = _tree(outside)
    # WHEN an object of bls/ is written, and deleted
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.put("bls/x", b"data")
    (tmp_path / "data" / "bls").mkdir(exist_ok=True)
    (tmp_path / "data" / "bls" / "x").write_bytes(b"by hand")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.delete_many(["bls/x"])
    # THEN nothing outside changed (no sidecar written there, x.json not deleted)
    assert _tree(outside) == before
    # AND the object's own metadata is not read from outside either
    assert store.head("bls/x").metadata == {}


def test_local_a_folder_swapped_for_a_link_during_an_upload_is_refused_at_commit(tmp_path, outside):
    # GIVEN an upload started under bls/pr/
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/old", b"old")
    upload = store.begin_upload("bls/pr/new")
    upload.write(b"new bytes")
    # WHEN the folder is swapped for a link to a folder outside before the commit
    (tmp_path / "data" / "bls" / "pr").rename(tmp_path / "moved")
    (tmp_path / "data" / "bls" / "pr").symlink_to(outside)
    before = _tree(outside)
    with pytest.raises(InvalidKey, match="symbolic link"):
        upload.commit()
    upload.abort()
    # THEN the object did not land outside, and no temp file is left
    assert _tree(outside) == before
    assert not any((tmp_path / "data" / ".store" / "tmp").iterdir())


def test_local_a_file_link_is_not_an_object(tmp_path, outside):
    # GIVEN a link inside the store to a file outside, beside a real object
    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/real", b"real")
    (tmp_path / "data" / "bls" / "pr" / "link").symlink_to(outside / "secret")
    (tmp_path / "data" / "bls" / "dirlink").symlink_to(outside)
    # THEN the listing does not show it (no outside size or MD5), head and open answer NotFound
    assert [o.key for o in store.list("bls/")] == ["bls/pr/real"]
    assert [o.key for o in store.list()] == ["bls/pr/real"]
    with pytest.raises(NotFound):
        store.head("bls/pr/link")
    with pytest.raises(NotFound), store.open("bls/pr/link"):
        pass
    with pytest.raises(InvalidKey):
        store.head("bls/dirlink/secret")
    # AND writing over the link replaces the link itself, never the outside file
    store.put("bls/pr/link", b"mine")
    assert (outside / "secret").read_bytes() == b"outside bytes"
    assert store.read("bls/pr/link").body == b"mine"


def test_local_a_symlinked_temp_folder_is_never_written_through(tmp_path, outside):
    store = LocalStore(tmp_path / "data")
    store.put("a", b"1")
    tmp = tmp_path / "data" / ".store" / "tmp"
    tmp.rmdir()
    tmp.symlink_to(outside)
    before = _tree(outside)
    with pytest.raises(InvalidKey):
        store.put("b", b"2")
    assert _tree(outside) == before


def test_local_files_follow_the_umask(tmp_path):
    # issue 19 point 14: like every other tool (not 0600 whatever the umask)
    old = os.umask(0o022)
    try:
        store = LocalStore(tmp_path / "data")
        store.put("bls/pr/pr.class", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "data" / "bls" / "pr" / "pr.class").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "data" / ".store" / "meta" / "bls" / "pr" / "pr.class.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "data" / "bls" / "pr").stat().st_mode & 0o777 == 0o755
