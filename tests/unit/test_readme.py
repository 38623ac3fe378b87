"""The README is part of the contract: it must name every setting, command and metric."""

from pathlib import Path

from ioc.cli import COMMANDS
from ioc.config import Settings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [
        f"IOC_{name.upper()}"
        for name in Settings.model_fields
        if f"IOC_{name.upper()}" not in README
    ]
    assert not missing, f"README lacks {missing}"


def test_every_command_is_documented() -> None:
    missing = [name for name in COMMANDS if f"`ioc {name}" not in README]
    assert not missing, f"README lacks {missing}"


def test_every_metric_is_documented() -> None:
    from prometheus_client import REGISTRY

    # Importing these modules registers their metrics.
    import ingestors.metrics  # noqa: F401
    import ioc.api.live  # noqa: F401
    import streams.metrics  # noqa: F401

    # Counters are collected under their family name, without "_total".
    names = {m.name for m in REGISTRY.collect() if m.name.startswith("ioc_")}
    assert len(names) >= 10, names  # the imports above did register them
    missing = sorted(n for n in names if f"`{n}" not in README)
    assert not missing, f"README lacks {missing}"


def test_the_example_record_is_valid() -> None:
    import json
    import re

    from ioc.events import FilingEvent, validate_event

    example = re.search(r"<<'EOF'\n(.*?)\nEOF", README, re.S)
    assert example is not None
    assert isinstance(validate_event("filings", json.loads(example.group(1))), FilingEvent)
