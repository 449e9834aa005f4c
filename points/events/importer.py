"""Importing normalized events from CSV or JSONL files, with errors reported by line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from points.db import Database
from points.events.service import MAX_BATCH, ingest_payloads
from points.jobs import JobQueue, commit
from rules.catalog import BUILTIN_EVENT_TYPES, parse_text

CORE_COLUMNS = ("external_id", "type", "actor", "occurred_at")


@dataclass
class ImportReport:
    created: int = 0
    duplicate: int = 0
    conflict: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, raw item) for each record; unparseable lines give a string error."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not JSON: {exc.msg}"
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CORE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            yield 1, f"the header lacks {', '.join(missing)}"
            return
        for record in reader:
            number = reader.line_num
            item: dict[str, Any] = {c: record.pop(c) for c in CORE_COLUMNS}
            attributes: dict[str, Any] = {}
            raw = record.pop("attributes", None)
            if raw:
                try:
                    attributes = json.loads(raw)
                except json.JSONDecodeError:
                    yield number, "attributes is not a JSON object"
                    continue
            # Extra columns become attributes, typed as the catalogue says (ids keep
            # their leading zeros); others: "true"/"false" and numbers keep their type.
            known = BUILTIN_EVENT_TYPES.get(str(item.get("type") or ""))
            kinds = known.attributes if known is not None else {}
            try:
                for key, value in record.items():
                    if key and value not in (None, ""):
                        kind = kinds.get(key)
                        attributes[key] = _typed(value) if kind is None else parse_text(kind, value)
            except ValueError as exc:
                yield number, f"attributes.{key}: {exc}"
                continue
            item["attributes"] = attributes
            yield number, item


def _typed(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


async def import_file(
    db: Database, queue: JobQueue, path: Path, source: str = "import"
) -> ImportReport:
    """Import in batches of 1,000, each committed (then scored) on its own."""
    report = ImportReport()
    batch: list[tuple[int, Any]] = []

    async def flush() -> None:
        if not batch:
            return
        async with db.session() as session:
            results = await ingest_payloads(
                session,
                source,
                [item for _n, item in batch],
                submitted_by=f"import:{path.name}"[:96],
            )
            await commit(session, queue)
        for (number, _item), result in zip(batch, results, strict=True):
            status = result["status"]
            setattr(report, status, getattr(report, status) + 1)
            if status in ("invalid", "conflict"):
                detail = result.get("error") or "same external_id, different payload"
                report.errors.append(f"line {number}: {status}: {detail}")
        batch.clear()

    for number, item in _rows(path):
        if isinstance(item, str):
            report.invalid += 1
            report.errors.append(f"line {number}: invalid: {item}")
            continue
        batch.append((number, item))
        if len(batch) >= MAX_BATCH:
            await flush()
    await flush()
    return report
