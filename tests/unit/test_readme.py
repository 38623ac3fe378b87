"""The README is part of the contract: it must name every setting and every command."""

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
