"""WeCom callback crypto ("接收消息服务器"): signature, AES-256-CBC, replay window.

The scheme (WeCom's callback encryption; known-good vectors in ``tests/wecom/vectors.json``)::

    msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypt]))).hexdigest()
    key = b64decode(EncodingAESKey + "="); iv = key[:16]; AES-256-CBC
    plaintext = 16 random bytes | uint32 big-endian len(msg) | msg | receive_id | PKCS#7(32)

There is no MAC: the SHA-1 signature is the only integrity check, so it is verified
(in constant time) before anything is decrypted. Every failure raises a subclass of
:class:`CallbackRejected` whose ``reason`` is a short stable code for metrics and logs;
messages never contain the token, the key, or decrypted content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from points.wecom.xmlmsg import (
    ForbiddenXmlError,
    MalformedXmlError,
    build_xml,
    parse_root,
    parse_xml,
)

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_MAX_BODY_BYTES",
    "BadBase64",
    "BadLength",
    "BadPadding",
    "BadSignature",
    "BodyTooLarge",
    "CallbackCrypto",
    "CallbackRejected",
    "ForbiddenXml",
    "MalformedCallback",
    "SealedCallback",
    "StaleTimestamp",
    "WrongReceiver",
    "signature",
]

#: WeCom pads to 32-byte blocks, not AES's 16 (a quirk shared by all official SDKs).
BLOCK_SIZE = 32
#: Real callbacks are a few KB; anything this large is not from WeCom.
DEFAULT_MAX_BODY_BYTES = 256 * 1024
_RANDOM_PREFIX = 16
_HEADER = _RANDOM_PREFIX + 4


class CallbackRejected(Exception):
    """A callback request that must be refused with a 4xx and change nothing.

    ``reason`` is a short stable code (e.g. ``"bad_signature"``) safe to use as a
    metrics label and to log; ``status_code`` is the HTTP status to answer with.
    """

    reason: ClassVar[str] = "rejected"
    status_code: ClassVar[int] = 400

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class BadSignature(CallbackRejected):
    """``msg_signature`` does not match: forged or corrupted request."""

    reason = "bad_signature"
    status_code = 403


class StaleTimestamp(CallbackRejected):
    """The signed timestamp is outside the replay window (or not a number)."""

    reason = "stale_timestamp"
    status_code = 403


class BadBase64(CallbackRejected):
    """The encrypted field is not strict base64 of whole AES blocks."""

    reason = "bad_base64"


class BadPadding(CallbackRejected):
    """PKCS#7 padding (32-byte blocks) is invalid after decryption."""

    reason = "bad_padding"


class BadLength(CallbackRejected):
    """The 4-byte message length points outside the decrypted plaintext."""

    reason = "bad_length"


class WrongReceiver(CallbackRejected):
    """The receive id (CorpID) in the plaintext is not ours."""

    reason = "wrong_receiver"
    status_code = 403


class BodyTooLarge(CallbackRejected):
    """The request body (or echostr) exceeds the configured limit."""

    reason = "body_too_large"
    status_code = 413


class ForbiddenXml(CallbackRejected):
    """The XML carries a DTD, entities or external references."""

    reason = "forbidden_xml"


class MalformedCallback(CallbackRejected):
    """Missing or ill-shaped parameters, XML or text encoding."""

    reason = "malformed"


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """Return WeCom's ``msg_signature``: sha1 hex of the sorted concatenation."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def _pkcs7_pad(data: bytes) -> bytes:
    pad = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([pad]) * pad


def _pkcs7_unpad(data: bytes) -> bytes:
    if not data or len(data) % BLOCK_SIZE:
        raise BadPadding("length is not a multiple of the block size")
    pad = data[-1]
    if not 1 <= pad <= BLOCK_SIZE:
        raise BadPadding("pad value out of range")
    # Every pad byte must equal the pad value; compare_digest keeps it branch-free.
    if not hmac.compare_digest(data[-pad:], bytes([pad]) * pad):
        raise BadPadding("pad bytes differ")
    return data[:-pad]


@dataclass(frozen=True)
class SealedCallback:
    """An encrypted callback as WeCom would POST it: query params plus XML body."""

    body: bytes
    msg_signature: str
    timestamp: str
    nonce: str
    encrypt: str

    @property
    def params(self) -> dict[str, str]:
        """Query parameters for ``POST /wecom/callback``."""
        return {
            "msg_signature": self.msg_signature,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
        }


class CallbackCrypto:
    """Verify, decrypt and (for tests and simulations) encrypt WeCom callbacks.

    ``token``, ``encoding_aes_key`` and ``receive_id`` (the CorpID) come from the
    app's "接收消息" settings. ``clock`` returns Unix seconds; tests inject a fixed
    clock to check vectors with 2024 timestamps instead of disabling the window.
    """

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        clock: Callable[[], float] = time.time,
        replay_window_seconds: int = 300,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if not token:
            raise ValueError("WeCom callback token is empty (POINTS_WECOM_TOKEN)")
        if not receive_id:
            raise ValueError("WeCom receive id / CorpID is empty (POINTS_WECOM_CORP_ID)")
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters (POINTS_WECOM_AES_KEY)")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not valid base64 (POINTS_WECOM_AES_KEY)") from None
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes (POINTS_WECOM_AES_KEY)")
        if replay_window_seconds <= 0:
            raise ValueError("replay_window_seconds must be positive")
        self._token = token
        # One cipher object per key: it only hands out a fresh context per message.
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self._receive_id = receive_id.encode("utf-8")
        self._clock = clock
        self.replay_window_seconds = replay_window_seconds
        self.max_body_bytes = max_body_bytes

    def __repr__(self) -> str:  # never show the token or key
        return f"CallbackCrypto(receive_id={self._receive_id.decode()!r})"

    # -- checks -----------------------------------------------------------------

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise :class:`BadSignature` unless the signature matches (constant time)."""
        expected = signature(self._token, timestamp, nonce, encrypt).encode("ascii")
        given = (msg_signature or "").strip().lower().encode("utf-8")
        if not hmac.compare_digest(expected, given):
            raise BadSignature()

    def check_timestamp(self, timestamp: str) -> None:
        """Raise :class:`StaleTimestamp` if ``timestamp`` is outside the replay window."""
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise MalformedCallback("timestamp is not a Unix time")
        skew = abs(self._clock() - int(timestamp))
        if skew > self.replay_window_seconds:
            raise StaleTimestamp(f"{int(skew)} s from now")

    def _check_params(self, msg_signature: str, timestamp: str, nonce: str) -> None:
        if not msg_signature or not timestamp or not nonce:
            raise MalformedCallback("missing msg_signature, timestamp or nonce")
        if len(msg_signature) > 64 or len(nonce) > 128 or len(timestamp) > 32:
            raise MalformedCallback("query parameter too long")

    # -- decryption -------------------------------------------------------------

    def decrypt(self, encrypt: str) -> str:
        """Decrypt an ``Encrypt`` value and return the message text.

        Only call this after :meth:`check_signature`: CBC without a MAC must not be
        exposed as a padding oracle.
        """
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise BadBase64() from None
        if not raw or len(raw) % 16:
            raise BadBase64("not whole AES blocks")
        decryptor = self._cipher.decryptor()
        plain = _pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < _HEADER:
            raise BadLength("plaintext shorter than its header")
        (length,) = struct.unpack(">I", plain[_RANDOM_PREFIX:_HEADER])
        end = _HEADER + length
        if end > len(plain):
            raise BadLength("message length exceeds plaintext")
        if not hmac.compare_digest(plain[end:], self._receive_id):
            raise WrongReceiver()
        try:
            return plain[_HEADER:end].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCallback("message is not UTF-8") from None

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Handle WeCom's URL verification GET: return the plaintext to answer with."""
        self._check_params(msg_signature, timestamp, nonce)
        if not echostr:
            raise MalformedCallback("missing echostr")
        if len(echostr) > self.max_body_bytes:
            raise BodyTooLarge()
        # A "+" that reached us unescaped in the query string decodes as a space;
        # base64 never contains spaces, so restoring it is safe.
        echostr = echostr.replace(" ", "+")
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        self.check_timestamp(timestamp)
        return self.decrypt(echostr)

    def open_callback(
        self, msg_signature: str, timestamp: str, nonce: str, body: bytes
    ) -> dict[str, Any]:
        """Verify and decrypt a callback POST and return the inner message as a dict.

        Order matters: size limit, outer XML (defusedxml), signature, timestamp, then
        decryption and the inner XML. The result maps element names to text, nested
        dicts and lists (see :func:`points.wecom.xmlmsg.parse_xml`).
        """
        self._check_params(msg_signature, timestamp, nonce)
        if len(body) > self.max_body_bytes:
            raise BodyTooLarge()
        encrypt = self._outer_encrypt(body)
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        self.check_timestamp(timestamp)
        return self._parse_inner(self.decrypt(encrypt))

    def _outer_encrypt(self, body: bytes) -> str:
        try:
            root = parse_root(body)
        except ForbiddenXmlError:
            raise ForbiddenXml("outer body") from None
        except MalformedXmlError:
            raise MalformedCallback("outer body is not XML") from None
        node = root.find("Encrypt")
        encrypt = (node.text or "").strip() if node is not None else ""
        if not encrypt:
            raise MalformedCallback("no Encrypt field")
        return encrypt

    @staticmethod
    def _parse_inner(text: str) -> dict[str, Any]:
        try:
            return parse_xml(text)
        except ForbiddenXmlError:
            raise ForbiddenXml("inner message") from None
        except MalformedXmlError:
            raise MalformedCallback("inner message is not XML") from None

    # -- encryption (tests, fake server, `points wecom simulate`) ----------------

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        """Encrypt ``message`` the way WeCom does and return base64 text."""
        prefix = os.urandom(_RANDOM_PREFIX) if random_prefix is None else random_prefix
        if len(prefix) != _RANDOM_PREFIX:
            raise ValueError("random_prefix must be 16 bytes")
        data = message.encode("utf-8")
        plain = prefix + struct.pack(">I", len(data)) + data + self._receive_id
        encryptor = self._cipher.encryptor()
        raw = encryptor.update(_pkcs7_pad(plain)) + encryptor.finalize()
        return base64.b64encode(raw).decode("ascii")

    def seal(
        self,
        message: str,
        timestamp: str,
        nonce: str,
        *,
        random_prefix: bytes | None = None,
    ) -> tuple[str, str]:
        """Encrypt and sign ``message``; return ``(encrypt_b64, msg_signature)``."""
        encrypt = self.encrypt(message, random_prefix=random_prefix)
        return encrypt, signature(self._token, timestamp, nonce, encrypt)

    def post_body(
        self,
        message: str,
        timestamp: str | None = None,
        nonce: str | None = None,
        *,
        agent_id: str = "",
        random_prefix: bytes | None = None,
    ) -> SealedCallback:
        """Build a complete encrypted callback (body and query params) for ``message``.

        ``timestamp`` defaults to the injected clock, ``nonce`` to a random string.
        """
        ts = timestamp if timestamp is not None else str(int(self._clock()))
        nc = nonce if nonce is not None else secrets.token_hex(8)
        encrypt, msg_signature = self.seal(message, ts, nc, random_prefix=random_prefix)
        body = build_xml(
            {
                "ToUserName": self._receive_id.decode("utf-8"),
                "AgentID": agent_id,
                "Encrypt": encrypt,
            }
        )
        return SealedCallback(
            body=body.encode("utf-8"),
            msg_signature=msg_signature,
            timestamp=ts,
            nonce=nc,
            encrypt=encrypt,
        )
