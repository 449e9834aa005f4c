"""``points rules validate|simulate|activate`` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from points.audit.models import AuditEntry
from points.ledger.models import LedgerTransaction, TransactionKind
from points.rulesets.models import RuleVersion, VersionStatus
from tests.support.rulesets import (
    DEFAULT_RULES,
    Company,
    doubled_doc_shared,
    invoke,
    write,
)
from tests.support.services import Store

DEMO_RULES = (
    Path(__file__).resolve().parents[2] / "points" / "devtools" / "demo" / "rules.yaml"
).read_text("utf-8")

GOOD = """\
- id: approval-on-time
  title: 按时提交审批
  when: approval.submitted
  if: on_time and template in ["报销", "请假"]
  points: 5
  once_per: attributes.sp_no
  cap: {per: day, max: 20}
"""

# (what HR wrote, what the one error line must say)
MALFORMED = [
    (
        GOOD.replace("  points: 5", "  pionts: 5"),
        ":5: rule `approval-on-time`",
        "did you mean `points`?",
    ),
    (GOOD.replace("points: 5", "points: five"), ":5:", "field `points`"),
    (
        GOOD.replace("approval.submitted", "approval.submited"),
        ":3:",
        "did you mean `approval.submitted`?",
    ),
    (GOOD.replace("{per: day, max: 20}", "{max: 20}"), ":7:", "field `cap.per`"),
    (GOOD.replace("points: 5", "points: -5"), "field `reason`", "negative points"),
    (GOOD.replace("on_time and", "on_tme and"), ":4:", "did you mean `on_time`?"),
    # Working-day streaks and milestones (issue 17).
    (
        DEMO_RULES.replace("{workdays: 10}", "{workdays: 10, days: 5}"),
        ":9: rule `checkin-workdays-10`, field `streak`",
        "keep `workdays` and remove the rest",
    ),
    (
        DEMO_RULES.replace("{at: 50,", "{at: 5,"),
        ":20: rule `doc-shared-milestones`, field `milestone.levels[1].at`",
        "list the levels from the smallest `at` to the largest",
    ),
    (
        DEMO_RULES.replace("    levels:", "    sum: attributes.title\n    levels:"),
        ":18: rule `doc-shared-milestones`, field `milestone.sum`",
        "only numbers add up",
    ),
    (
        DEMO_RULES.replace("{at: 10, points: 10,", "{at: 10, pionts: 10,"),
        ":19:",
        "did you mean `points`?",
    ),
]


async def test_validate_accepts_working_day_streaks_and_milestones(tmp_path: Path) -> None:
    result = await invoke("rules", "validate", str(write(tmp_path, DEMO_RULES)))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("text", "where", "hint"), MALFORMED)
async def test_validate_rejects_malformed_rules_with_one_line_each(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    path = write(tmp_path, text)
    result = await invoke("rules", "validate", str(path))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if str(path) in line and ":" in line]
    problems = [line for line in lines if not line.startswith(("1 problem", "2 problem"))]
    assert len(problems) == 1, result.stderr
    assert problems[0].startswith(f"{path}:")
    assert where in problems[0] and hint in problems[0], problems[0]


async def test_validate_accepts_the_default_rules(tmp_path: Path) -> None:
    result = await invoke("rules", "validate", str(write(tmp_path, DEFAULT_RULES)))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


async def test_simulate_json_shows_the_difference_the_ledger_explains(
    pg: Store, company: Company, cli_env: None, tmp_path: Path
) -> None:
    result = await invoke("rules", "simulate", str(write(tmp_path, doubled_doc_shared())), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    async with pg.db.session() as session:
        ledger = (
            await session.exec(
                select(func.sum(LedgerTransaction.points)).where(
                    LedgerTransaction.rule_id == "doc-shared"
                )
            )
        ).one()
    # Doubling doc.shared adds exactly what doc.shared gave under the active version.
    assert ledger == 12  # 张三 3×3, 李四 3
    assert data["by_rule"]["doc-shared"] == {"active": 12, "candidate": 24, "difference": 12}
    assert data["by_rule"]["approval-on-time"]["difference"] == 0
    assert data["total"]["difference"] == 12
    assert data["total"]["active"] == 17
    assert data["events"] == 5
    assert data["active_version"] == 1
    assert data["by_department"] == {
        "销售部": {"active": 14, "candidate": 23, "difference": 9},
        "财务部": {"active": 3, "candidate": 6, "difference": 3},
    }
    assert [w["person"] for w in data["winners"]] == ["zhangsan", "lisi"]
    assert data["losers"] == []
    assert set(data["window"]) == {"since", "until"}


async def test_simulate_text_report_and_window(
    pg: Store, company: Company, cli_env: None, tmp_path: Path
) -> None:
    path = write(tmp_path, doubled_doc_shared())
    result = await invoke("rules", "simulate", str(path))
    assert result.exit_code == 0, result.output
    assert "points issued: active 17 → candidate 29, difference +12" in result.output
    assert "biggest winners" in result.output and "zhangsan" in result.output
    # A window before any activity sees nothing.
    empty = await invoke(
        "rules", "simulate", str(path), "--since", "2020-01-01", "--until", "2020-01-31", "--json"
    )
    assert json.loads(empty.stdout)["events"] == 0


async def test_simulate_refuses_a_bad_file(cli_env: None, tmp_path: Path) -> None:
    result = await invoke(
        "rules", "simulate", str(write(tmp_path, GOOD.replace("on_time", "on_tme")))
    )
    assert result.exit_code == 1
    assert "did you mean `on_time`?" in result.stderr


async def test_activate_saves_a_version_audits_it_and_keeps_one_active(
    pg: Store, company: Company, cli_env: None, tmp_path: Path
) -> None:
    result = await invoke(
        "rules", "activate", str(write(tmp_path, doubled_doc_shared())), "--by", "hr-cli"
    )
    assert result.exit_code == 0, result.output
    assert "rules v2 is active (was v1)" in result.output
    async with pg.db.session() as session:
        versions = (await session.exec(select(RuleVersion).order_by(col(RuleVersion.id)))).all()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "rules.activate"))
        ).all()
        backapplied = (
            await session.exec(
                select(LedgerTransaction).where(LedgerTransaction.kind == TransactionKind.backapply)
            )
        ).all()
    assert [(v.id, v.status) for v in versions] == [
        (1, VersionStatus.retired),
        (2, VersionStatus.active),
    ]
    assert versions[1].activated_by == "hr-cli"
    assert [(a.actor, a.target, a.details["previous"]) for a in audit][-1] == ("hr-cli", "v2", 1)
    assert backapplied == []


async def test_activate_refuses_invalid_rules_and_changes_nothing(
    pg: Store, company: Company, cli_env: None, tmp_path: Path
) -> None:
    result = await invoke("rules", "activate", str(write(tmp_path, GOOD.replace("5", "five", 1))))
    assert result.exit_code == 1
    async with pg.db.session() as session:
        versions = (await session.exec(select(RuleVersion))).all()
    assert [(v.id, v.status) for v in versions] == [(1, VersionStatus.active)]
