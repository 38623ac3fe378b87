"""The domains IOC monitors, each declared once in its own module (see `base.Domain`)."""

from __future__ import annotations

from ioc.config import SOURCES
from ioc.domains import documents, filings, security
from ioc.domains.base import Domain

DOMAINS: dict[str, Domain] = {
    domain.source: domain for domain in (documents.DOMAIN, filings.DOMAIN, security.DOMAIN)
}
assert tuple(sorted(DOMAINS)) == tuple(sorted(SOURCES)), "a source without its domain module"
