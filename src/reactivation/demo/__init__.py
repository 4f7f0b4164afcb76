"""Deterministic demo data shaped like the YClients REST API, and the demo's replay of a campaign.

`make demo`, the tests (SQL results checked against an independent pandas computation) and the benchmarks all
need realistic salon booking history that reproduces from a seed. By job:
`catalogue` (company specs, price lists, names), `generator` (the history), `replay` (clients answering the
campaign), `__main__` (`python -m reactivation.demo`).
"""

from reactivation.demo.generator import DemoData, generate
from reactivation.demo.replay import exposed_messages, simulate_bookings

__all__ = ["DemoData", "exposed_messages", "generate", "simulate_bookings"]
