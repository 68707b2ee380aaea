"""Personal fields encrypted at rest, and the keyed hashes that find them without the plain value.

- `Encrypted` is a column type: services write and read plain strings, the database holds a
  Fernet token (authenticated encryption: AES-128-CBC with HMAC-SHA256, from the
  `cryptography` library). Filtering by an encrypted column is refused (each write has a new
  random IV, so equality could never match): look it up through its keyed-hash column.
- `lookup_hash` is HMAC-SHA256 under a key derived from `IM2_SECRET_KEY`: equal values give
  equal hashes, so indexes, counts and uniqueness work on the hash.

Why Fernet (through `MultiFernet`) rather than AES-GCM with our own key-id header: it is the
library's complete, reviewed recipe (versioned token format, random IV, encrypt-then-MAC), so
there is no nonce to manage and no format of ours to get wrong; `MultiFernet` decrypts with any
listed key and encrypts with the first, which is exactly key rotation. It costs about 100 bytes
per value and a few microseconds, which the vote path does not notice (docs/security.md).

The keys come from the settings (`IM2_ENCRYPTION_KEYS`, newest first). Without them (the
embedded demo) one key is derived from `IM2_SECRET_KEY` with HKDF, and a warning says once that
production should set its own. `IM2_PREVIOUS_SECRET_KEYS` lists earlier secrets: their derived
keys still decrypt and their hashes still match until `im2 keys rotate` has moved every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from im2.config import Settings

log = logging.getLogger(__name__)

_ENCRYPTION_INFO = b"im2/crypto/field-encryption/v1"
_LOOKUP_INFO = b"im2/crypto/lookup-hash/v1"


class KeyConfigError(ValueError):
    """An encryption key in the settings is not a valid key (the message names the setting)."""


class Undecryptable(ValueError):
    """A stored value that none of the configured keys opens (a key was removed too early)."""


def _hkdf(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


def derived_key(secret: str) -> str:
    """The Fernet key derived from a secret (the demo's key when IM2_ENCRYPTION_KEYS is unset)."""
    return base64.urlsafe_b64encode(_hkdf(secret, _ENCRYPTION_INFO)).decode()


def new_key() -> str:
    """A fresh random key for IM2_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


def split_keys(value: str | None) -> list[str]:
    """A comma-separated list of keys or secrets, blanks dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_key(key: str, *, setting: str = "IM2_ENCRYPTION_KEYS") -> Fernet:
    """A Fernet for `key`, or KeyConfigError saying what a key looks like (never the key)."""
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise KeyConfigError(
            f"{setting}: each key must be 32 bytes in URL-safe base64 (44 characters), "
            "e.g. from `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`"
        ) from None


@dataclass(frozen=True)
class Keyring:
    """The keys in force: encryption keys and lookup-hash keys, newest first."""

    encryption: tuple[Fernet, ...]
    lookup: tuple[bytes, ...]
    derived: bool  # the encryption keys come from the secrets (no IM2_ENCRYPTION_KEYS)
    _multi: MultiFernet = field(init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls, *, encryption_keys: list[str], secret: str, previous_secrets: list[str]
    ) -> Keyring:
        secrets = [secret, *previous_secrets]
        derived = not encryption_keys
        # The keys derived from the secrets always decrypt (after any configured key): a demo
        # database moves to its own keys by setting IM2_ENCRYPTION_KEYS and running
        # `im2 keys rotate`, without first digging out the derived key.
        keys = [*encryption_keys, *(derived_key(s) for s in secrets)]
        return cls(
            encryption=tuple(parse_key(k) for k in keys),
            lookup=tuple(_hkdf(s, _LOOKUP_INFO) for s in secrets),
            derived=derived,
        )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_multi", MultiFernet(list(self.encryption)))

    def encrypt(self, plain: str) -> str:
        return self.encryption[0].encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise Undecryptable(
                "a stored personal field opens with none of the configured keys "
                "(IM2_ENCRYPTION_KEYS, or IM2_SECRET_KEY and IM2_PREVIOUS_SECRET_KEYS)"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether `token` is under the newest key already (nothing for a rotation to do)."""
        try:
            self.encryption[0].decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def lookup_hashes(self, purpose: str, value: str) -> tuple[str, ...]:
        """The keyed hash of `value` under every lookup key, newest first."""
        message = f"{purpose}:{value}".encode()
        return tuple(hmac.new(k, message, hashlib.sha256).hexdigest() for k in self.lookup)

    def lookup_hash(self, purpose: str, value: str) -> str:
        return self.lookup_hashes(purpose, value)[0]


_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], Keyring] | None = None
_override: Keyring | None = None
_warned = False


def keyring_from(settings: Settings) -> Keyring:
    """The keyring the settings describe (KeyConfigError for a malformed key)."""
    previous = settings.previous_secret_keys
    keys = settings.encryption_keys
    return Keyring.build(
        encryption_keys=split_keys(keys.get_secret_value() if keys else None),
        secret=settings.secret_key.get_secret_value(),
        previous_secrets=split_keys(previous.get_secret_value() if previous else None),
    )


def keyring() -> Keyring:
    """The process's keyring, from the current settings (rebuilt when they change)."""
    global _cached, _warned
    if _override is not None:
        return _override
    from im2.config import get_settings

    settings = get_settings()
    fingerprint = (
        settings.encryption_keys,
        settings.secret_key,
        settings.previous_secret_keys,
    )
    cached = _cached
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    with _lock:
        ring = keyring_from(settings)
        _cached = (fingerprint, ring)
        if ring.derived and not _warned:
            _warned = True
            log.warning(
                "IM2_ENCRYPTION_KEYS is not set: personal fields are encrypted with a key "
                "derived from IM2_SECRET_KEY. Production should set its own keys "
                "(docs/security.md, Encryption at rest)."
            )
    return ring


def use_keyring(ring: Keyring | None) -> None:
    """Install `ring` for this process instead of the settings' one (None: back to settings)."""
    global _override
    _override = ring


# --- the column type -----------------------------------------------------------------------------

_ALLOWED = {operators.is_, operators.is_not}


class Encrypted(TypeDecorator[str]):
    """A string column stored as a Fernet token (VARCHAR without a length, which PostgreSQL
    treats as TEXT): plain in Python, opaque in the database.

    Comparisons other than IS [NOT] NULL raise: find rows through the keyed-hash column."""

    impl = String
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            is_null_test = op in (operators.eq, operators.ne) and other[:1] == (None,)
            if op not in _ALLOWED and not is_null_test:
                raise TypeError(
                    "an encrypted column cannot be compared or filtered (its stored values "
                    "differ on every write): use its keyed-hash column"
                )
            return super().operate(op, *other, **kwargs)

    comparator_factory = Comparator

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(value)


# Purposes of the lookup hashes (part of what is hashed, so one value's hashes differ by use).
IP_PURPOSE = "ip"


def hashed_by(hash_column: str, purpose: str) -> dict[str, tuple[str, str]]:
    """The `info` of an encrypted column that has a keyed-hash column beside it, so that
    `im2 keys rotate` re-hashes it: `mapped_column(Encrypted(), info=hashed_by("x_hash", P))`."""
    return {"lookup_hash": (hash_column, purpose)}


def ip_hash(ip: str | None) -> str | None:
    """The keyed hash stored beside an encrypted IP address (None for none)."""
    return None if ip is None else keyring().lookup_hash(IP_PURPOSE, ip)


def ip_hashes(ip: str) -> tuple[str, ...]:
    """`ip_hash` under every lookup key in force, newest first: a lookup matches rows that a
    key rotation has not re-hashed yet."""
    return keyring().lookup_hashes(IP_PURPOSE, ip)
