"""The adapters, one per input format, each turning one parsed record into canonical events.

`?format=` names one; when it is omitted the format is detected from the record.
Adapters for Suricata EVE, Wazuh, CEF and the provincial exports register here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ioc.events import Event, FieldError, validate_event

Adapter = Callable[[str, Any], Event | list[FieldError]]


def canonical(source: str, record: Any) -> Event | list[FieldError]:
    """IOC's own record shape (see README): already canonical, only validated."""
    return validate_event(source, record)


ADAPTERS: dict[str, Adapter] = {"canonical": canonical}


class UnknownFormat(ValueError):
    pass


def adapter_for(format_name: str | None) -> tuple[str, Adapter]:
    name = (format_name or "canonical").strip().lower()
    try:
        return name, ADAPTERS[name]
    except KeyError:
        raise UnknownFormat(
            f"unknown format {format_name!r}; known formats: {', '.join(sorted(ADAPTERS))}"
        ) from None
