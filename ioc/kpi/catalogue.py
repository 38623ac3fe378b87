"""Which catalogue belongs to which domain: the readers look formulas up here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ioc.kpi import Measures, documents, filings, security

CATALOGUES: dict[str, Callable[[Measures], dict[str, Any]]] = {
    "documents": documents.catalogue,
    "filings": filings.catalogue,
    "security": security.catalogue,
}
