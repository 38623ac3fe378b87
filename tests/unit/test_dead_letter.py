"""Dead letters are bounded, so sending one can never fail on size and lose its input."""

from __future__ import annotations

import hashlib
import json

from ioc.kafka import DEAD_LETTER_RAW_MAX_BYTES, dead_letter_value

KAFKA_MAX_REQUEST = 1024 * 1024


def _letter(raw: bytes | str, **options: object) -> dict[str, object]:
    value = dead_letter_value(
        stage="ingest", source="filings", reason="r", errors=["e"], raw=raw, **options
    )  # type: ignore[arg-type]
    assert len(value) < KAFKA_MAX_REQUEST
    return json.loads(value)  # type: ignore[no-any-return]


def test_a_small_record_is_kept_whole() -> None:
    letter = _letter('{"a": 1}')
    assert letter["raw"] == '{"a": 1}' and letter["raw_truncated"] is False
    assert letter["raw_bytes"] == 8
    assert letter["raw_sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()


def test_a_1mb_unreadable_body_keeps_its_first_256_kib_as_hex() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    letter = _letter(body, raw_encoding="hex")
    assert letter["raw_encoding"] == "hex" and letter["raw_truncated"] is True
    assert bytes.fromhex(str(letter["raw"])) == body[:DEAD_LETTER_RAW_MAX_BYTES]
    assert letter["raw_bytes"] == len(body)
    assert letter["raw_sha256"] == hashlib.sha256(body).hexdigest()


def test_text_that_json_escapes_sixfold_is_cut_to_fit() -> None:
    letter = _letter("\x00" * 1_000_000)
    assert letter["raw_truncated"] is True and str(letter["raw"]).startswith("\x00")


def test_multibyte_text_is_cut_on_a_character_boundary() -> None:
    letter = _letter("ệ" * 200_000)
    assert letter["raw_truncated"] is True and set(str(letter["raw"])) == {"ệ"}


def test_a_lone_surrogate_does_not_make_the_letter_fail() -> None:
    letter = _letter("x\ud800y")
    assert letter["raw"] == "x\\ud800y"


def test_the_error_list_is_bounded() -> None:
    value = dead_letter_value(
        stage="ingest", source="filings", reason="r", errors=["e" * 5000] * 1000, raw=""
    )
    letter = json.loads(value)
    assert len(letter["errors"]) == 101 and len(letter["errors"][0]) == 1000
