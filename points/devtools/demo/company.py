"""A believable Chinese demo company, reproducible from a seed.

Departments in two or three levels, a few hundred people with Chinese names and
pinyin userids, a head for each department, two HR people and one admin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from points.org import service as org
from points.org.models import Role

COMPANY = (1, "星河科技有限公司", "Xinghe Technology", None)

# (id, name, English name, parent id, share of headcount)
DEPARTMENTS: tuple[tuple[int, str, str, int, float], ...] = (
    (2, "行政部", "Administration", 1, 0.06),
    (3, "销售部", "Sales", 1, 0.04),
    (31, "华东区", "East China", 3, 0.10),
    (32, "华南区", "South China", 3, 0.08),
    (33, "华北区", "North China", 3, 0.07),
    (4, "财务部", "Finance", 1, 0.06),
    (5, "人力资源部", "Human Resources", 1, 0.05),
    (6, "市场部", "Marketing", 1, 0.09),
    (7, "技术部", "Technology", 1, 0.03),
    (71, "平台研发组", "Platform team", 7, 0.11),
    (72, "移动研发组", "Mobile team", 7, 0.09),
    (73, "测试组", "QA team", 7, 0.05),
    (8, "客户服务部", "Customer Service", 1, 0.12),
    (9, "采购部", "Procurement", 1, 0.05),
)

SURNAMES = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("罗", "luo"),
    ("高", "gao"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
)
GIVEN = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("婷", "ting"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("欣", "xin"),
    ("晨", "chen"),
    ("佳", "jia"),
    ("鑫", "xin"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("子", "zi"),
    ("思", "si"),
    ("文", "wen"),
    ("博", "bo"),
    ("一", "yi"),
    ("梓", "zi"),
    ("睿", "rui"),
)
TITLES = {
    2: ("行政专员", "前台", "行政助理"),
    31: ("销售代表", "客户经理", "大客户经理"),
    32: ("销售代表", "客户经理"),
    33: ("销售代表", "客户经理"),
    3: ("销售运营",),
    4: ("会计", "出纳", "财务分析师"),
    5: ("HRBP", "招聘专员", "薪酬专员"),
    6: ("市场专员", "品牌经理", "新媒体运营"),
    7: ("架构师",),
    71: ("后端工程师", "高级工程师", "运维工程师"),
    72: ("iOS 工程师", "Android 工程师", "前端工程师"),
    73: ("测试工程师",),
    8: ("客服专员", "客服组长"),
    9: ("采购专员", "供应商经理"),
}


@dataclass
class DemoCompany:
    employees: int
    departments: int
    heads: dict[int, str]
    hr: list[str]
    admin: str


def _names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Distinct (name, userid) pairs: 张伟 → zhangwei, a second 张伟 → zhangwei2."""
    seen: dict[str, int] = {}
    people = []
    for _ in range(count):
        surname, s_py = rng.choice(SURNAMES)
        parts = rng.sample(GIVEN, rng.choice((1, 2, 2)))
        name = surname + "".join(p[0] for p in parts)
        userid = s_py + "".join(p[1] for p in parts)
        seen[userid] = seen.get(userid, 0) + 1
        if seen[userid] > 1:
            userid = f"{userid}{seen[userid]}"
        people.append((name, userid))
    return people


async def build_company(
    session: AsyncSession, *, employees: int = 300, seed: int = 7
) -> DemoCompany:
    """Create (or refresh) the demo organisation. The same seed gives the same company."""
    rng = random.Random(seed)
    root_id, root_name, root_en, _parent = COMPANY
    await org.upsert_department(
        session, id=root_id, name=root_name, name_en=root_en, parent_id=None
    )
    for order, (dept_id, name, name_en, parent, _share) in enumerate(DEPARTMENTS):
        await org.upsert_department(
            session, id=dept_id, name=name, name_en=name_en, parent_id=parent, sort_order=order
        )
    total_share = sum(d[4] for d in DEPARTMENTS)
    counts = {d[0]: max(2, round(employees * d[4] / total_share)) for d in DEPARTMENTS}
    # Round so the headcount is exactly what was asked for (the biggest team absorbs it).
    counts[max(counts, key=lambda k: counts[k])] += employees - sum(counts.values())
    names = _names(rng, sum(counts.values()))
    heads: dict[int, str] = {}
    hr: list[str] = []
    finance = ""
    admin = ""
    start = date(2026, 11, 25)
    index = 0
    for dept_id, *_rest in DEPARTMENTS:
        for position in range(counts[dept_id]):
            name, userid = names[index]
            index += 1
            if position == 0:
                title = "总监" if dept_id < 10 else "组长"
            else:
                title = rng.choice(TITLES[dept_id])
            joined = start - timedelta(days=rng.randint(30, 3000))
            # The admin runs the system; their own activity should not win prizes.
            runs_it = dept_id == 71 and position != 0 and not admin
            await org.upsert_employee(
                session,
                userid=userid,
                name=name,
                department_id=dept_id,
                title=title,
                joined_on=joined,
                excluded=runs_it,
            )
            if position == 0:
                heads[dept_id] = userid
            elif dept_id == 5 and len(hr) < 2:
                hr.append(userid)
            elif dept_id == 4 and not finance:
                finance = userid
            elif dept_id == 71 and not admin:
                admin = userid
    for dept_id, userid in heads.items():
        await org.grant_role(session, userid=userid, role=Role.head, department_id=dept_id)
    for userid in hr:
        await org.grant_role(session, userid=userid, role=Role.hr)
    if finance:
        await org.grant_role(session, userid=finance, role=Role.finance)
    await org.grant_role(session, userid=admin, role=Role.admin)
    admin_row = await org.get_employee(session, admin)
    admin_row.title = "IT 管理员"
    session.add(admin_row)
    return DemoCompany(
        employees=sum(counts.values()),
        departments=len(DEPARTMENTS) + 1,
        heads=heads,
        hr=hr,
        admin=admin,
    )
