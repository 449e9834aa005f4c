"""A periodic job's schedule in the reader's language.

The scheduler describes schedules in English for logs and the API ("daily at 00:40");
the admin page says the same in the person's language.
"""

from __future__ import annotations

import re

from points.i18n import N_, gettext_

_SHAPES = (
    (re.compile(r"^every (?P<n>\d+) min$"), N_("every {n} min")),
    (re.compile(r"^hourly at :(?P<minutes>[\d,]+)$"), N_("hourly at :{minutes}")),
    (
        re.compile(r"^daily at (?P<hours>[\d,]+):(?P<minutes>[\d,]+)$"),
        N_("daily at {hours}:{minutes}"),
    ),
)


def schedule_text(text: str) -> str:
    for pattern, message in _SHAPES:
        found = pattern.match(text)
        if found:
            return gettext_(message).format(**found.groupdict())
    return text
