"""Imports every module that registers jobs, so a worker serves them all."""

from __future__ import annotations

import points.scoring.jobs  # noqa: F401
