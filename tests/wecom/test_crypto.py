"""Callback crypto: the shared vectors, round trips, and every way a callback is refused."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from points.wecom.crypto import (
    BadBase64,
    BadLength,
    BadPadding,
    BadSignature,
    BodyTooLarge,
    CallbackCrypto,
    CallbackRejected,
    ForbiddenXml,
    MalformedCallback,
    StaleTimestamp,
    WrongReceiver,
    signature,
)
from points.wecom.xmlmsg import build_xml, parse_xml
from tests.support.wecom import CORP_ID, NOW, TOKEN, new_aes_key

# -- the shared vectors ----------------------------------------------------------------


def test_url_verification_vector(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto]
) -> None:
    v = vectors["url_verification"]
    crypto = vector_crypto(v["timestamp"])
    answer = crypto.verify_url(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])
    assert answer == v["expected_response"]


@pytest.mark.parametrize("index", [0, 1])
def test_event_vectors_decrypt_to_the_expected_message(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto], index: int
) -> None:
    event = vectors["events"][index]
    crypto = vector_crypto(event["timestamp"])
    assert crypto.decrypt(event["encrypt"]) == event["plaintext"]
    message = crypto.open_callback(
        event["msg_signature"], event["timestamp"], event["nonce"], event["post_body"].encode()
    )
    assert message == parse_xml(event["plaintext"])


def test_approval_vector_fields(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto]
) -> None:
    event = vectors["events"][0]
    crypto = vector_crypto(event["timestamp"])
    message = crypto.open_callback(
        event["msg_signature"], event["timestamp"], event["nonce"], event["post_body"].encode()
    )
    assert message["Event"] == "sys_approval_change"
    info = message["ApprovalInfo"]
    assert info["SpNo"] == "202411240001"
    assert info["SpName"] == "报销"
    assert info["Applyer"]["UserId"] == "zhangsan"
    assert info["SpRecord"]["Details"]["Approver"]["UserId"] == "lisi"
    assert info["StatuChangeEvent"] == "1"


@pytest.mark.parametrize("index", [0, 1])
def test_seal_reproduces_the_vectors(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto], index: int
) -> None:
    event = vectors["events"][index]
    crypto = vector_crypto(event["timestamp"])
    encrypt, msg_signature = crypto.seal(
        event["plaintext"],
        event["timestamp"],
        event["nonce"],
        random_prefix=bytes.fromhex(event["random_prefix_hex"]),
    )
    assert (encrypt, msg_signature) == (event["encrypt"], event["msg_signature"])


def test_tampered_vector_is_rejected(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto]
) -> None:
    event = vectors["events"][0]
    crypto = vector_crypto(event["timestamp"])
    with pytest.raises(BadSignature) as info:
        crypto.open_callback(
            vectors["tampered"]["msg_signature"],
            event["timestamp"],
            event["nonce"],
            event["post_body"].encode(),
        )
    assert info.value.reason == "bad_signature"
    assert 400 <= info.value.status_code < 500


def test_vectors_are_refused_with_the_real_clock(vectors: dict[str, Any]) -> None:
    """The replay window is on by default: 2024 vectors are stale today."""
    crypto = CallbackCrypto(vectors["token"], vectors["encoding_aes_key"], vectors["corp_id"])
    event = vectors["events"][0]
    with pytest.raises(StaleTimestamp):
        crypto.open_callback(
            event["msg_signature"], event["timestamp"], event["nonce"], event["post_body"].encode()
        )


# -- round trips -----------------------------------------------------------------------


def test_post_body_round_trip(crypto: CallbackCrypto) -> None:
    message = build_xml({"MsgType": "event", "Event": "enter_agent", "FromUserName": "张三"})
    sealed = crypto.post_body(message, agent_id="1000002")
    assert sealed.timestamp == str(NOW)
    opened = crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert opened == {"MsgType": "event", "Event": "enter_agent", "FromUserName": "张三"}
    assert set(sealed.params) == {"msg_signature", "timestamp", "nonce"}


def test_url_verification_round_trip_with_unescaped_plus(crypto: CallbackCrypto) -> None:
    # Find an echostr whose base64 has a "+", then deliver it as a query string would
    # decode an unescaped "+": as a space.
    for attempt in range(200):
        echostr, msg_signature = crypto.seal(f"echo-{attempt}", str(NOW), "n")
        if "+" in echostr:
            break
    else:  # pragma: no cover - astronomically unlikely
        pytest.skip("no '+' produced")
    mangled = echostr.replace("+", " ")
    assert crypto.verify_url(msg_signature, str(NOW), "n", mangled) == f"echo-{attempt}"


@settings(max_examples=200, deadline=None)
@given(message=st.text())
def test_seal_then_decrypt_any_unicode(aes_key: str, message: str) -> None:
    crypto = CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=lambda: float(NOW))
    encrypt, msg_signature = crypto.seal(message, str(NOW), "nonce")
    crypto.check_signature(msg_signature, str(NOW), "nonce", encrypt)
    assert crypto.decrypt(encrypt) == message


# Characters XML 1.0 can carry unchanged (parsers turn "\r" into "\n").
_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from(["\t", "\n", "]", ">", "<", "&"])
)


@settings(max_examples=200, deadline=None)
@given(text=_XML_TEXT)
def test_open_callback_round_trip_any_xml_text(aes_key: str, text: str) -> None:
    crypto = CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=lambda: float(NOW))
    sealed = crypto.post_body(build_xml({"Content": text}), nonce="n1")
    opened = crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert opened == {"Content": text}


# -- rejections ------------------------------------------------------------------------


def _raw_encrypt(aes_key: str, padded_plaintext: bytes) -> str:
    """AES-CBC over bytes we shaped ourselves (to forge bad padding or lengths)."""
    key = base64.b64decode(aes_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded_plaintext) + encryptor.finalize()).decode()


def _signed_body(encrypt: str, timestamp: str = str(NOW), nonce: str = "n") -> tuple[str, bytes]:
    """A correctly signed body around an arbitrary Encrypt value."""
    body = build_xml({"ToUserName": CORP_ID, "AgentID": "1", "Encrypt": encrypt})
    return signature(TOKEN, timestamp, nonce, encrypt), body.encode()


def _open(crypto: CallbackCrypto, encrypt: str) -> dict[str, Any]:
    msg_signature, body = _signed_body(encrypt)
    return crypto.open_callback(msg_signature, str(NOW), "n", body)


def test_tampered_signature(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>")
    forged = ("0" if sealed.msg_signature[0] != "0" else "1") + sealed.msg_signature[1:]
    with pytest.raises(BadSignature):
        crypto.open_callback(forged, sealed.timestamp, sealed.nonce, sealed.body)


def test_signature_is_checked_before_decrypting(crypto: CallbackCrypto) -> None:
    """Garbage under a wrong signature is a signature failure, not a padding oracle."""
    body = build_xml({"Encrypt": "not base64 at all!!"}).encode()
    with pytest.raises(BadSignature):
        crypto.open_callback("0" * 40, str(NOW), "n", body)


def test_tampered_ciphertext_with_old_signature(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>")
    flipped = ("B" if sealed.encrypt[5] != "B" else "C").join(
        [sealed.encrypt[:5], sealed.encrypt[6:]]
    )
    body = sealed.body.replace(sealed.encrypt.encode(), flipped.encode())
    with pytest.raises(BadSignature):
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, body)


def test_wrong_corp_id(aes_key: str, crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(TOKEN, aes_key, "wwsomeoneelse", clock=lambda: float(NOW))
    sealed = other.post_body("<xml><A>1</A></xml>")
    with pytest.raises(WrongReceiver) as info:
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert info.value.reason == "wrong_receiver"


def test_wrong_key_fails_cleanly(crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(TOKEN, new_aes_key(), CORP_ID, clock=lambda: float(NOW))
    sealed = other.post_body("<xml><A>1</A></xml>")
    with pytest.raises(CallbackRejected) as info:
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert info.value.reason in {"bad_padding", "bad_length", "wrong_receiver"}


def _plain(message: bytes, receive_id: bytes = CORP_ID.encode()) -> bytes:
    return b"r" * 16 + struct.pack(">I", len(message)) + message + receive_id


@pytest.mark.parametrize(
    "make_padding",
    [
        pytest.param(lambda n: bytes([n]) * (n - 1) + bytes([n - 1 or 2]), id="unequal-bytes"),
        pytest.param(lambda n: b"\x00" * n, id="zero"),
        pytest.param(lambda n: bytes([33]) * n, id="over-32"),
    ],
)
def test_bad_padding(
    aes_key: str, crypto: CallbackCrypto, make_padding: Callable[[int], bytes]
) -> None:
    plain = _plain(b"<xml><A>1</A></xml>")
    pad = 32 - len(plain) % 32
    if pad < 2:
        plain += b"x"
        pad = 32 - len(plain) % 32
    encrypt = _raw_encrypt(aes_key, plain + make_padding(pad))
    with pytest.raises(BadPadding) as info:
        _open(crypto, encrypt)
    assert info.value.reason == "bad_padding"


def test_ciphertext_not_a_multiple_of_32_bytes(aes_key: str, crypto: CallbackCrypto) -> None:
    # 48 bytes: valid AES, but WeCom always pads to 32-byte blocks.
    plain = _plain(b"abc")
    plain += bytes([48 - len(plain)]) * (48 - len(plain))
    with pytest.raises(BadPadding):
        _open(crypto, _raw_encrypt(aes_key, plain))


def test_length_out_of_range(aes_key: str, crypto: CallbackCrypto) -> None:
    plain = b"r" * 16 + struct.pack(">I", 10_000) + b"<xml/>" + CORP_ID.encode()
    pad = 32 - len(plain) % 32
    with pytest.raises(BadLength) as info:
        _open(crypto, _raw_encrypt(aes_key, plain + bytes([pad]) * pad))
    assert info.value.reason == "bad_length"


def test_replayed_old_timestamp(crypto: CallbackCrypto) -> None:
    old = str(NOW - 3600)
    sealed = crypto.post_body("<xml><A>1</A></xml>", timestamp=old)
    with pytest.raises(StaleTimestamp) as info:
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert info.value.reason == "stale_timestamp"


def test_timestamp_far_in_the_future(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>", timestamp=str(NOW + 3600))
    with pytest.raises(StaleTimestamp):
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)


def test_timestamp_inside_the_window_is_accepted(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>", timestamp=str(NOW - 299))
    assert crypto.open_callback(
        sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body
    ) == {"A": "1"}


def test_non_numeric_timestamp(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>", timestamp="yesterday")
    with pytest.raises(MalformedCallback):
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)


def test_oversized_body(aes_key: str) -> None:
    small = CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=lambda: float(NOW), max_body_bytes=1024)
    sealed = small.post_body("<xml><A>" + "x" * 2000 + "</A></xml>")
    with pytest.raises(BodyTooLarge) as info:
        small.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    assert info.value.status_code == 413


def test_oversized_echostr(aes_key: str) -> None:
    small = CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=lambda: float(NOW), max_body_bytes=64)
    echostr, msg_signature = small.seal("x" * 200, str(NOW), "n")
    with pytest.raises(BodyTooLarge):
        small.verify_url(msg_signature, str(NOW), "n", echostr)


def test_outer_xml_with_dtd(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("<xml><A>1</A></xml>")
    body = b'<?xml version="1.0"?><!DOCTYPE xml [<!ELEMENT xml ANY>]>' + sealed.body
    with pytest.raises(ForbiddenXml) as info:
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, body)
    assert info.value.reason == "forbidden_xml"


BILLION_LAUGHS = (
    '<?xml version="1.0"?>'
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    "<xml><Encrypt>&lol4;</Encrypt></xml>"
)


def test_outer_billion_laughs(crypto: CallbackCrypto) -> None:
    with pytest.raises(ForbiddenXml):
        crypto.open_callback("0" * 40, str(NOW), "n", BILLION_LAUGHS.encode())


def test_inner_billion_laughs_even_when_signed(crypto: CallbackCrypto) -> None:
    """Defence in depth: a correctly encrypted message still may not carry entities."""
    sealed = crypto.post_body(BILLION_LAUGHS)
    with pytest.raises(ForbiddenXml):
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)


def test_external_entity(crypto: CallbackCrypto) -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<xml><Encrypt>&x;</Encrypt></xml>"
    )
    with pytest.raises(ForbiddenXml):
        crypto.open_callback("0" * 40, str(NOW), "n", xxe.encode())


@pytest.mark.parametrize("encrypt", ["!!!not-base64!!!", "abc", "QUJD", "QUJDRA=="])
def test_malformed_base64(crypto: CallbackCrypto, encrypt: str) -> None:
    with pytest.raises(BadBase64) as info:
        _open(crypto, encrypt)
    assert info.value.reason == "bad_base64"


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<xml><ToUserName>x</ToUserName></xml>", b"<xml><Encrypt></Encrypt></xml>"],
)
def test_malformed_outer_body(crypto: CallbackCrypto, body: bytes) -> None:
    with pytest.raises(MalformedCallback) as info:
        crypto.open_callback("0" * 40, str(NOW), "n", body)
    assert info.value.reason == "malformed"


def test_inner_message_not_xml(crypto: CallbackCrypto) -> None:
    sealed = crypto.post_body("plain text, not XML")
    with pytest.raises(MalformedCallback):
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce"])
def test_missing_query_parameters(crypto: CallbackCrypto, missing: str) -> None:
    sealed = crypto.post_body("<xml/>")
    params = dict(sealed.params, **{missing: ""})
    with pytest.raises(MalformedCallback):
        crypto.open_callback(
            params["msg_signature"], params["timestamp"], params["nonce"], sealed.body
        )


def test_rejection_messages_carry_no_secrets(aes_key: str, crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(TOKEN, aes_key, "wwsomeoneelse", clock=lambda: float(NOW))
    sealed = other.post_body("<xml><Secret>top secret payload</Secret></xml>")
    with pytest.raises(CallbackRejected) as info:
        crypto.open_callback(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.body)
    text = str(info.value) + repr(crypto)
    for secret in (TOKEN, aes_key, "top secret payload"):
        assert secret not in text


# Fixed (not random) so every xdist worker collects the same test ids.
_GOOD_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.mark.parametrize(
    ("token", "key", "receive_id"),
    [
        pytest.param("", _GOOD_KEY, CORP_ID, id="no-token"),
        pytest.param(TOKEN, "short", CORP_ID, id="short-key"),
        pytest.param(TOKEN, "*" * 43, CORP_ID, id="key-not-base64"),
        pytest.param(TOKEN, _GOOD_KEY, "", id="no-corp-id"),
    ],
)
def test_bad_configuration_is_refused_at_startup(token: str, key: str, receive_id: str) -> None:
    with pytest.raises(ValueError):
        CallbackCrypto(token, key, receive_id)


def test_good_configuration_is_accepted() -> None:
    assert CallbackCrypto(TOKEN, _GOOD_KEY, CORP_ID)
