"""One log format for every IOC process, naming the process so `ioc up` output stays readable."""

from __future__ import annotations

import logging


def setup_logging(role: str, level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)-7s [{role}] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # aiokafka narrates every group join at INFO; keep it for debugging only.
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
