"""One S3 request: boto3's errors turned into the store's own, and the request arguments both
the single PUT and the multipart upload add (conditions, the SHA-256 checksum)."""

from __future__ import annotations

import base64
from typing import Any

from chalicelib.core.errors import NotFound, PreconditionFailed, StoreError


def s3_call(
    method: Any, *args: Any, _key: str | None = None, _operation: str | None = None, _bucket: str | None = None,
    **kwargs: Any,
) -> Any:
    """Call boto3, turning its errors into the store's own (with the key in the message).

    `_operation` and `_bucket` name the request in messages when `method` is not the boto3 call
    itself (e.g. `next` on a paginator's pages).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    operation = _operation or str(getattr(method, "__name__", "call"))
    bucket = _bucket or kwargs.get("Bucket")
    try:
        return method(*args, **kwargs)
    except ClientError as error:
        raise _client_error(error, operation, bucket, _key) from None
    except BotoCoreError as error:
        raise StoreError(f"S3 {operation} failed for {_key or bucket!r}: {error}") from None


def _client_error(error: Any, operation: str, bucket: str | None, key: str | None) -> StoreError:
    """The store's error for an error response of S3 (a botocore ClientError)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return StoreError(f"S3 {operation} failed: the bucket {bucket!r} does not exist (check DATA_STORE)")
    if code in ("NoSuchKey", "404", "NotFound") or status == 404:
        return NotFound(f"no object {key!r}")
    if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
        return PreconditionFailed(f"{key!r}: conditional write lost ({code})")
    return StoreError(f"S3 {operation} failed for {key or bucket!r}: {code} {error}")


def write_conditions(if_none_match: bool, if_match: str | None) -> dict[str, str]:
    """The conditional-write arguments of PutObject / CompleteMultipartUpload."""
    conditions: dict[str, str] = {}
    if if_none_match:
        conditions["IfNoneMatch"] = "*"
    if if_match is not None:
        conditions["IfMatch"] = f'"{if_match.strip(chr(34))}"'
    return conditions


def sha256_checksum(sha256: str | None) -> dict[str, str]:
    """PutObject arguments that let S3 verify the body against a SHA-256 the caller already has.

    With a checksum header present botocore computes no CRC32 of its own (over plain http it
    would read the whole file once more before sending, just for that): the same end-to-end
    check, one pass over the body less. Multipart uploads keep botocore's per-part checksums.
    """
    if sha256 is None:
        return {}
    value = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
    return {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": value}


def stripped_etag(response: dict[str, Any]) -> str:
    """A response's ETag without S3's quotes."""
    return str(response["ETag"]).strip('"')
