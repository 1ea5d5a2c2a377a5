"""The object store: one small interface, two backends (a local folder and S3).

- `base.py`: the interface (`Store`, `Upload`), what it returns (`ObjectInfo`, `ObjectHead`,
  `StoredObject`, `StoreLocation`) and what a key is (`validate_key`, `validate_prefix`);
- `local.py`: `LocalStore`, objects as files under a folder;
- `s3.py`: `S3Store`; `multipart.py` its streaming writes; `s3_requests.py` one request;
- `bodies.py`: a caller's body copied into an upload; `factory.py`: `open_store`.

Import from here: `from chalicelib.core.store import Store, open_store`.
"""

from chalicelib.core.store.base import (
    ObjectHead,
    ObjectInfo,
    Store,
    StoredObject,
    StoreLocation,
    Upload,
    validate_key,
    validate_prefix,
)
from chalicelib.core.store.factory import open_store
from chalicelib.core.store.local import LocalStore
from chalicelib.core.store.multipart import MAX_PARTS
from chalicelib.core.store.s3 import PART_SIZE, SINGLE_PUT_MAX, SPOOL_MEMORY, S3Store

__all__ = [
    "MAX_PARTS",
    "PART_SIZE",
    "SINGLE_PUT_MAX",
    "SPOOL_MEMORY",
    "LocalStore",
    "ObjectHead",
    "ObjectInfo",
    "S3Store",
    "Store",
    "StoreLocation",
    "StoredObject",
    "Upload",
    "open_store",
    "validate_key",
    "validate_prefix",
]
