"""``points rules validate FILE``.

The lead mounts :data:`validate_command` under the ``points rules`` group.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from rules.catalog import Catalogue
from rules.loader import parse_ruleset
from rules.source import RuleError


@click.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate_command(file: Path) -> None:
    """Check a rule file; print one line per problem and exit 1, or a summary and exit 0."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        click.echo(f"{file}: not UTF-8 text ({error.reason})", err=True)
        raise SystemExit(1) from None
    rule_file, errors = parse_ruleset(text)
    if rule_file is None:
        for problem in errors or [RuleError("no rules found")]:
            click.echo(_with_file(file, problem), err=True)
        click.echo(f"{len(errors)} problem(s) in {file}", err=True)
        raise SystemExit(1)
    enabled = [rule for rule in rule_file.rules if rule.enabled]
    kinds = Counter(
        "challenge"
        if r.challenge
        else "campaign"
        if r.multiplier is not None
        else "streak"
        if r.streak
        else "points"
        for r in enabled
    )
    catalogue = Catalogue(rule_file.event_types)
    types = sorted(
        {t for r in enabled for t in (r.when or [])}
        | {t for r in enabled if r.challenge for g in r.challenge.goals for t in g.when}
    )
    unknown = [t for t in types if catalogue.get(t) is None]
    click.echo(
        f"OK: {file} — {len(rule_file.rules)} rules ({len(enabled)} enabled: "
        f"{kinds['points']} points, {kinds['streak']} streak, {kinds['campaign']} campaign"
        + (f", {kinds['challenge']} challenge" if kinds["challenge"] else "")
        + "), "
        f"{len(types)} event types"
    )
    if rule_file.event_types:
        click.echo(f"declared event types: {', '.join(sorted(rule_file.event_types))}")
    if unknown:
        click.echo(f"note: not in the catalogue (scored as new sources): {', '.join(unknown)}")


def _with_file(file: Path, problem: RuleError) -> str:
    # "rules.yaml:7: rule `x`, field `if`: …" — the shape editors and CI annotate.
    text = str(problem)
    if problem.line is None:
        return f"{file}: {text}"
    return f"{file}:{problem.line}: {text.removeprefix(f'line {problem.line}: ')}"
