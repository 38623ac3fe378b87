"""Per-source-system ingest tokens: the file, and who may post where."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ioc.api.auth import ALL, TokenFileError, load_tokens
from ioc.config import SOURCES

ONE_STOP = "one-stop-shop-token-0123456789"
SOC = "soc-token-abcdefghijklmnop"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_token_maps_to_its_system_and_sources(tmp_path: Path) -> None:
    sha = hashlib.sha256(ONE_STOP.encode()).hexdigest()
    path = _file(
        tmp_path,
        f"tokens:\n  - {{name: motcua, token_sha256: {sha}, sources: [filings]}}\n"
        f"  - {{name: soc, token: {SOC}, sources: [security, documents]}}\n",
    )
    tokens = load_tokens("everything-token-xyz", path, SOURCES)
    one_stop, soc = tokens.principal(ONE_STOP), tokens.principal(SOC)
    assert one_stop is not None and one_stop.name == "motcua"
    assert one_stop.may_post_to("filings") and not one_stop.may_post_to("security")
    assert soc is not None and soc.may_post_to("documents") and not soc.may_post_to("filings")
    everything = tokens.principal("everything-token-xyz")
    assert everything is not None and everything.sources == {ALL}
    assert all(everything.may_post_to(source) for source in SOURCES)
    for wrong in ("", " ", ONE_STOP + "x", sha, "ümlaut\udcff"):
        assert tokens.principal(wrong) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tokens: nope\n", "'tokens:' list"),
        ("tokens:\n  - {token: abcdefghijklmnopq, sources: [filings]}\n", "'name'"),
        ("tokens:\n  - {name: a, sources: [filings]}\n", "exactly one of"),
        ("tokens:\n  - {name: a, token: short, sources: [filings]}\n", "at least 16"),
        ("tokens:\n  - {name: a, token_sha256: abc, sources: [filings]}\n", "64 hex digits"),
        ("tokens:\n  - {name: a, token: abcdefghijklmnopq, sources: [filing]}\n", "filing"),
        ("tokens:\n  - {name: a, token: abcdefghijklmnopq}\n", "'sources'"),
        (
            "tokens:\n  - {name: a, token: abcdefghijklmnopq, sources: [all]}\n"
            "  - {name: b, token: abcdefghijklmnopq, sources: [all]}\n",
            "its own",
        ),
        ("tokens: [\n", "cannot read"),
        ("tokens:\n  - {name: a, token: abcdefghijklmnopq, sources: [all]\n", "line 3"),
    ],
)
def test_a_file_that_cannot_be_used_says_which_entry_and_what_to_fix(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(TokenFileError, match=says) as error:
        load_tokens("", _file(tmp_path, text), SOURCES)
    assert "abcdefghijklmnopq" not in str(error.value)  # never echo a token


def test_a_missing_file_is_named() -> None:
    with pytest.raises(TokenFileError, match=r"IOC_INGEST_TOKENS_FILE /nowhere/tokens\.yaml"):
        load_tokens("", Path("/nowhere/tokens.yaml"), SOURCES)
