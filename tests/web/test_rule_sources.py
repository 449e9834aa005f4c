"""HR's activity-source page is the event catalogue: every type, source and permission."""

from __future__ import annotations

import html

import httpx

from rules.catalog import BUILTIN_EVENT_TYPES, SOURCE_KINDS
from tests.support.factories import login
from tests.support.org import Org


async def test_the_page_lists_every_catalogued_activity_with_its_source(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.hr.userid)
    page = html.unescape((await client.get("/rules/sources")).text)
    for event_type in BUILTIN_EVENT_TYPES.values():
        origin = event_type.origin
        assert f'id="type-{event_type.name}"' in page
        row = page.split(f'id="type-{event_type.name}"', 1)[1].split("</tr>", 1)[0]
        assert event_type.title_zh in row
        assert origin.permission_zh in row and origin.frequency_zh in row
        for source in origin.sources:
            assert SOURCE_KINDS[source][0] in row
        for attribute in event_type.attributes:
            assert f"<code>{attribute}</code>" in page
    rules_page = (await client.get("/rules")).text
    assert 'href="/rules/sources"' in rules_page


async def test_the_page_is_in_english_too(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.hr.userid)
    await client.get("/lang", params={"to": "en", "next": "/rules/sources"})
    page = html.unescape((await client.get("/rules/sources")).text)
    assert "Activity sources" in page and "WeCom callback" in page
    assert BUILTIN_EVENT_TYPES["customer.added"].origin.permission_en in page
