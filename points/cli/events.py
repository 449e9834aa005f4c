"""``points events catalogue``: every event type, its attributes and where it comes from."""

from __future__ import annotations

import json
from typing import Any

import click

from rules.catalog import BUILTIN_EVENT_TYPES, COMMON_NAMES, SOURCE_KINDS, EventType


def describe(event_type: EventType) -> dict[str, Any]:
    """One catalogue entry as plain data (the ``--json`` shape)."""
    origin = event_type.origin
    return {
        "type": event_type.name,
        "title_zh": event_type.title_zh,
        "title_en": event_type.title_en,
        "sources": list(origin.sources),
        "wecom": origin.wecom,
        "permission_zh": origin.permission_zh,
        "permission_en": origin.permission_en,
        "frequency_zh": origin.frequency_zh,
        "frequency_en": origin.frequency_en,
        "note_zh": origin.note_zh,
        "note_en": origin.note_en,
        "attributes": dict(event_type.attributes),
    }


@click.group("events")
def events() -> None:
    """The events the points system understands."""


@events.command("catalogue")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def catalogue(as_json: bool) -> None:
    """Print each event type with its attributes, source, WeCom permission and frequency."""
    entries = [describe(t) for t in BUILTIN_EVENT_TYPES.values()]
    if as_json:
        data = {"common": dict(COMMON_NAMES), "types": entries}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for entry in entries:
        sources = ", ".join(SOURCE_KINDS[s][1] for s in entry["sources"])
        click.echo(f"{entry['type']}  {entry['title_zh']} / {entry['title_en']}")
        click.echo(f"  source: {sources}" + (f" ({entry['wecom']})" if entry["wecom"] else ""))
        click.echo(f"  WeCom permission: {entry['permission_en']}")
        click.echo(f"  frequency: {entry['frequency_en']}")
        if entry["note_en"]:
            click.echo(f"  note: {entry['note_en']}")
        attributes = ", ".join(f"{k} ({v})" for k, v in entry["attributes"].items())
        click.echo(f"  attributes: {attributes}")
    common = ", ".join(COMMON_NAMES)
    click.echo(f"every event also has: {common}")
