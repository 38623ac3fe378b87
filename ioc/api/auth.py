"""Who may post to which ingest endpoint: bearer tokens mapped to principals.

Each source system gets its own token, scoped to the sources it may post to, from a
YAML file (`IOC_INGEST_TOKENS_FILE`):

    tokens:
      - name: motcua-hatinh            # who it is: shown in logs, never the token
        token_sha256: 9f86d081884c…    # the SHA-256 (hex) of the token - or `token:`
        sources: [filings]             # where it may post; [all] for every source

`IOC_INGEST_TOKEN`, when set, is one more token for every source (what `ioc up`, the
simulator and `ioc replay` use). Tokens are kept and compared only as SHA-256
digests (compared in constant time), so neither a log line nor an exception can
carry one. A missing or unknown token is a 401; a token for other sources a 403 -
both decided before the body is read, so nothing is queued.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ALL = "all"


@dataclass(frozen=True, slots=True)
class Principal:
    """A source system that authenticated: its name and the sources it may post to."""

    name: str
    sources: frozenset[str]  # {"all"}: every source

    def may_post_to(self, source: str) -> bool:
        return ALL in self.sources or source in self.sources


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message says what to fix."""


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class Tokens:
    """Token digests -> principals."""

    by_digest: Mapping[bytes, Principal]

    def principal(self, token: str) -> Principal | None:
        """The principal of `token`, or None; every digest is compared, in constant time."""
        wanted = digest(token)
        found = None
        for known, principal in self.by_digest.items():
            if hmac.compare_digest(known, wanted):
                found = principal
        return found

    @classmethod
    def build(cls, everything_token: str, entries: Iterable[tuple[bytes, Principal]]) -> Tokens:
        table: dict[bytes, Principal] = {}
        if everything_token:
            table[digest(everything_token)] = Principal("IOC_INGEST_TOKEN", frozenset({ALL}))
        for key, principal in entries:
            if key in table:
                raise TokenFileError(
                    f"ingest token of {principal.name!r} is also the token of "
                    f"{table[key].name!r}; give every source system its own"
                )
            table[key] = principal
        return cls(table)


def load_tokens(everything_token: str, path: Path | None, known_sources: Iterable[str]) -> Tokens:
    """The token table from `IOC_INGEST_TOKEN` and the tokens file (if any)."""
    if path is None:
        return Tokens.build(everything_token, [])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TokenFileError(f"cannot read IOC_INGEST_TOKENS_FILE {path}: {_why(error)}") from None
    return Tokens.build(everything_token, parse_entries(data, set(known_sources), str(path)))


def _why(error: Exception) -> str:
    """The reason, without the excerpt of the file PyYAML quotes (it may hold a token)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    if isinstance(error, yaml.YAMLError):
        return "not valid YAML"
    return str(error)


def parse_entries(data: Any, known: set[str], where: str) -> list[tuple[bytes, Principal]]:
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        raise TokenFileError(f"{where}: expected a mapping with a 'tokens:' list")
    out = []
    for n, entry in enumerate(data["tokens"]):
        at = f"{where}: tokens[{n}]"
        if not isinstance(entry, dict):
            raise TokenFileError(f"{at}: expected a mapping with name, token_sha256, sources")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TokenFileError(f"{at}: give it a 'name' (who the source system is)")
        at = f"{at} ({name})"
        out.append((_entry_digest(entry, at), _principal(entry, name, known, at)))
    return out


def _entry_digest(entry: Mapping[str, Any], at: str) -> bytes:
    plain, hashed = entry.get("token"), entry.get("token_sha256")
    if (plain is None) == (hashed is None):
        raise TokenFileError(f"{at}: give exactly one of 'token_sha256' or 'token'")
    if plain is not None:
        if not isinstance(plain, str) or len(plain) < 16:
            raise TokenFileError(f"{at}: 'token' must be text of at least 16 characters")
        return digest(plain)
    try:
        value = bytes.fromhex(str(hashed))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise TokenFileError(f"{at}: 'token_sha256' must be 64 hex digits (sha256sum of it)")
    return value


def _principal(entry: Mapping[str, Any], name: str, known: set[str], at: str) -> Principal:
    sources = entry.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise TokenFileError(f"{at}: 'sources' must list where it may post, e.g. [filings]")
    unknown = sorted(set(sources) - known - {ALL})
    if unknown:
        raise TokenFileError(
            f"{at}: unknown source(s) {', '.join(unknown)}; use {', '.join(sorted(known))} or all"
        )
    return Principal(name.strip(), frozenset(sources))
