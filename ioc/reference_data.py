"""Reference data: the province's agencies and procedures, from a YAML file.

Names for codes (agencies, procedures; communes from the `vietnam-provinces`
package), agency levels, procedures' legal processing time, and how often each
source is expected to hear from each agency - the cadence past which a quiet source
is called *silent*. A code not in the file still counts everywhere and shows by its
code. The shipped file (`ioc/reference/province.yaml`) is an example province;
`IOC_REFERENCE_FILE` names a province's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.clock import Calendar
from ioc.fields import AgencyCode, Identifier


class _Ref(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Province(_Ref):
    code: int
    name: str
    agency_suffix: str


class Agency(_Ref):
    code: AgencyCode
    name: str
    level: Literal["central", "province", "commune"]
    commune_code: Identifier | None = None
    cadence: dict[str, float] = Field(default_factory=dict)  # source -> working hours


class Procedure(_Ref):
    code: Identifier
    name: str
    legal_working_days: float | None = None
    agency: AgencyCode | None = None


class Reference(_Ref):
    province: Province
    cadence: dict[str, float] = Field(default_factory=dict)  # source -> working hours
    agencies: list[Agency] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)

    @property
    def agencies_by_code(self) -> Mapping[str, Agency]:
        return {agency.code: agency for agency in self.agencies}

    @property
    def procedures_by_code(self) -> Mapping[str, Procedure]:
        return {procedure.code: procedure for procedure in self.procedures}

    def communes_by_agency(self) -> dict[str, str]:
        """Each commune-level agency's commune code, for ingest formats whose records
        name the agency but not the commune (the DVC filing sync record)."""
        return {a.code: a.commune_code for a in self.agencies if a.commune_code}

    def agency_name(self, code: str) -> str:
        agency = self.agencies_by_code.get(code)
        return agency.name if agency else code

    def cadence_for(self, source: str, agency: str | None = None) -> timedelta | None:
        """How much working time `source` may stay silent (for `agency`), or None when
        silence is not a fault: no cadence configured, or a central agency."""
        hours = self.cadence.get(source)
        if agency is not None:
            known = self.agencies_by_code.get(agency)
            if known is not None:
                if known.level == "central":
                    return None
                hours = known.cadence.get(source, hours)
        return timedelta(hours=hours) if hours else None


def load_reference(path: Path | None = None) -> Reference:
    """The reference file at `path`, or the shipped example; raises ValueError with the
    file and the field when it is malformed."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else (resources.files("ioc") / "reference" / "province.yaml").read_text("utf-8")
    )
    where = path or "province.yaml"
    try:
        return Reference.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False)[:5]
        )
        raise ValueError(f"reference file {where}: {problems}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"reference file {where} is not valid YAML: {error}") from None


@cache
def commune_name(code: str) -> str | None:
    """The commune (ward) name for an administrative unit code, from `vietnam-provinces`."""
    try:
        from vietnam_provinces import Ward, WardCode

        return str(Ward.from_code(WardCode(int(code))).name)
    except (ImportError, ValueError, KeyError):
        return None


def silent(
    last: datetime | None, now: datetime, cadence: timedelta | None, calendar: Calendar
) -> bool:
    """Whether a source quiet since `last` has passed its cadence, in working time: a
    quiet night or weekend is not silence. Never heard from at all is not judged here
    (a new source is not a fault); None cadence means silence is never a fault."""
    if cadence is None or last is None:
        return False
    return calendar.working_time_between(last, now) > cadence
