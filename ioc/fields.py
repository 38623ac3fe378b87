"""The field types every event model is made of, and what they refuse.

What PostgreSQL cannot store is refused by these types, per record and per field,
never at the database (where one bad row would cost a whole batch a retry):
- strings: no NUL character (text and jsonb refuse U+0000), no lone UTF-16 surrogate
  (not encodable as UTF-8), and every one bounded (identifiers 200 characters, free
  text 500, agency codes by their shape);
- instants: from 1970-01-01T00:00:00Z up to, not including, 2101-01-01T00:00:00Z,
  compared in UTC, so an offset cannot push a date past what `datetime` holds;
- fees: 0 to 10^15 VND (a bigint holds 9.2 x 10^18; no fee comes near either);
- IP addresses: IPv4 or IPv6, refused with one message naming both forms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any

from annotated_types import Ge, Le, Lt
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

# e-government agency code (QCVN 102:2016/BTTTT), e.g. 000.00.31.H42 or 000.00.00.G22.
AgencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$"),
]
# No whitespace; no NUL either (\S alone would let U+0000 through to PostgreSQL).
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s\x00]+$")
]
ShortText = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]

# The instants IOC stores: anything outside is a wrong year or offset, not an event.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)  # exclusive
Instant = Annotated[AwareDatetime, Ge(EARLIEST), Lt(LATEST)]
MAX_FEE_VND = 10**15
FeeVnd = Annotated[int, Ge(0), Le(MAX_FEE_VND)]


_IP_MSG = "must be an IPv4 or IPv6 address as text, e.g. 10.0.0.1 or 2001:db8::1"


def _ip_address(value: Any, handler: ValidatorFunctionWrapHandler) -> IPv4Address | IPv6Address:
    if not isinstance(value, str | IPv4Address | IPv6Address):  # 5 would be 0.0.0.5
        raise ValueError(_IP_MSG)
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(_IP_MSG) from None


# Tried as IPv4 first, then IPv6 (pydantic's default "smart" union runs both validators
# on every value, which doubled the cost of decoding an alert), and refused with one
# message instead of one per union member.
IpAddress = Annotated[
    IPv4Address | IPv6Address, Field(union_mode="left_to_right"), WrapValidator(_ip_address)
]


class Strict(BaseModel):
    """Unknown fields are refused: a typo would otherwise be lost silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
