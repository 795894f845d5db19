"""Envelope encryption under the deployment's KMS key: no size limit, few KMS calls.

KMS `Encrypt` takes at most 4 KB, and one call per item is one request per item. Instead a data
key (AES-256) is made by KMS `GenerateDataKey` and used, in this container, for at most
MAX_AGE_SECONDS and MAX_USES items; each item is sealed with AES-GCM under it, with its own
context (say, the seller and the order) as associated data, and stores the data key as KMS
encrypted it. Opening an item asks KMS to decrypt its data key once per container (decrypted
keys are cached by their encrypted form, for the same time).

A sealed item is one string: `v2.<encrypted data key>.<nonce>.<ciphertext>` (base64url parts).
Items sealed before envelope encryption (the KMS ciphertext itself, base64) still open:
`open_` tells them apart by the prefix.
"""
from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

PREFIX = "v2."
MAX_AGE_SECONDS = 3600.0
MAX_USES = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(context: Mapping[str, str]) -> bytes:
    return "\n".join(f"{k}={context[k]}" for k in sorted(context)).encode()


class DataKeys:
    """Seal and open items under data keys of one purpose (the KMS encryption context of the
    data keys: {"purpose": purpose}). `kms()` and `key_id()` are read when first needed."""

    def __init__(self, kms: Callable[[], Any], key_id: Callable[[], str], purpose: str,
                 clock: Callable[[], float] = time.monotonic):
        self._kms, self._key_id, self._purpose, self._clock = kms, key_id, purpose, clock
        self._current: tuple[bytes, bytes, float, int] | None = None  # plaintext key, encrypted key, made at, uses
        self._opened: dict[bytes, tuple[bytes, float]] = {}
        self.kms_calls = 0

    def _key(self) -> tuple[bytes, bytes]:
        moment = self._clock()
        current = self._current
        if current is None or moment - current[2] > MAX_AGE_SECONDS or current[3] >= MAX_USES:
            made = self._kms().generate_data_key(KeyId=self._key_id(), KeySpec="AES_256",
                                                 EncryptionContext={"purpose": self._purpose})
            self.kms_calls += 1
            current = (bytes(made["Plaintext"]), bytes(made["CiphertextBlob"]), moment, 0)
        self._current = (current[0], current[1], current[2], current[3] + 1)
        return current[0], current[1]

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key, encrypted_key = self._key()
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext, _aad(context))
        return PREFIX + ".".join((_b64(encrypted_key), _b64(nonce), _b64(sealed)))

    def _decrypted(self, encrypted_key: bytes) -> bytes:
        moment = self._clock()
        cached = self._opened.get(encrypted_key)
        if cached is not None and moment - cached[1] <= MAX_AGE_SECONDS:
            return cached[0]
        key = self._kms().decrypt(CiphertextBlob=encrypted_key, EncryptionContext={"purpose": self._purpose})
        self.kms_calls += 1
        if len(self._opened) > 100:
            self._opened.clear()
        plaintext = bytes(key["Plaintext"])
        self._opened[encrypted_key] = (plaintext, moment)
        return plaintext

    def open_(self, sealed: str, context: Mapping[str, str], legacy_context: Mapping[str, str] | None = None) -> bytes:
        """The plaintext of a sealed item. An item sealed before envelope encryption (base64 of
        a KMS ciphertext) is decrypted by KMS with `legacy_context`."""
        if not sealed.startswith(PREFIX):
            blob = base64.b64decode(sealed)
            self.kms_calls += 1
            return bytes(self._kms().decrypt(CiphertextBlob=blob, EncryptionContext=dict(legacy_context or {}))
                         ["Plaintext"])
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        encrypted_key, nonce, data = (_unb64(part) for part in sealed[len(PREFIX):].split("."))
        return AESGCM(self._decrypted(encrypted_key)).decrypt(nonce, data, _aad(context))
