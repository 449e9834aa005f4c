"""``points events catalogue [--json]``: each event type with its attributes and source."""

from __future__ import annotations

import json

from click.testing import CliRunner

from points.cli import main
from rules.catalog import BUILTIN_EVENT_TYPES


def test_the_catalogue_prints_every_type_with_its_attributes_and_source() -> None:
    text = CliRunner().invoke(main, ["events", "catalogue"])
    assert text.exit_code == 0, text.output
    assert "customer.added  添加客户 / customer added" in text.output
    assert "source: WeCom callback, REST API, CSV/JSONL import" in text.output
    assert "external_userid (str)" in text.output
    raw = CliRunner().invoke(main, ["events", "catalogue", "--json"])
    assert raw.exit_code == 0
    data = json.loads(raw.output)
    assert [t["type"] for t in data["types"]] == list(BUILTIN_EVENT_TYPES)
    added = next(t for t in data["types"] if t["type"] == "customer.added")
    assert added["sources"] == ["callback", "api", "csv"]
    assert added["attributes"]["external_userid"] == "str"
    assert "Customer Contact" in added["permission_en"]
    assert data["common"]["actor"] == "str"
