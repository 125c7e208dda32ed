"""Shared pytest setup: make the ``explorer`` package importable under plain ``pytest``.

CI runs ``pytest`` (not ``python -m pytest``), which does not put the repository
root on ``sys.path``; the unit tests import ``explorer`` directly.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
