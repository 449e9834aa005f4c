"""Imports every module that registers jobs, so a worker serves them all."""

from __future__ import annotations

import points.boards.jobs
import points.ops.jobs
import points.rewards.jobs
import points.scoring.jobs
import points.wecom.jobs  # noqa: F401
