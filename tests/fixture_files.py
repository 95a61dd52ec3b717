"""Where the test fixtures live: ``tests/fixtures/`` (its README says where each file came from).

Imported by tests in any folder (pytest puts ``tests/`` on ``sys.path`` for its conftest), so
that the location is written once and a clone of the repository needs nothing beside it.
"""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRAPHS = FIXTURES / "graphs"  # golden graph dumps of the image's trainer (docs/protocol.md §3)
EPISODES = FIXTURES / "episodes"  # the image's Redis payloads and sample transitions (§5.3, §9)
