"""Slow answers: whatever was asked shows that it is working and cannot be pressed twice,
and lists arrive as cards on a phone.

The request is held in the browser (Playwright routes it and lets it go on cue), so the
test sees the page in the middle of a slow action without timing anything.
"""

from __future__ import annotations

from playwright.sync_api import Route, expect

from tests.support.journeys import Login, Site


def test_switching_the_board_shows_it_is_working_then_departments_as_cards(
    site: Site, login: Login
) -> None:
    me = login(site.employees[-1], "zh_CN", "phone")
    page = me.page
    me.go("/boards")
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(lambda url: "/boards?" in url and "view=departments" in url, hold)

    page.locator("select[name=view]").select_option("departments")
    busy = page.locator("[data-testid=busy]")
    expect(busy).to_be_visible()
    expect(page.locator("form.board-filters")).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].continue_()

    expect(busy).to_be_hidden()
    table = page.locator("main table.cards")
    expect(table).to_be_visible()
    # On a phone each department is a card whose figures say what they are.
    first = table.locator("tbody tr").first
    expect(first.locator("td[data-label=人均]")).to_be_visible()
    assert first.bounding_box()["width"] <= 390  # type: ignore[index]
    me.finish("busy-board")


def test_trying_an_event_disables_its_button_until_the_answer_is_in(
    site: Site, login: Login
) -> None:
    hr = login(site.hr, "en", "phone")
    page = hr.page
    hr.go("/rules/try")
    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/rules/try", hold)
    button = page.locator("form[hx-post='/rules/try'] button[type=submit]")
    button.click()
    expect(page.locator("[data-testid=busy]")).to_be_visible()
    expect(button).to_be_disabled()
    button.click(force=True)  # a second press while it works sends nothing
    assert len(held) == 1
    held[0].continue_()

    expect(page.locator("#try-result h2")).to_contain_text("Result:")
    expect(button).to_be_enabled()
    expect(page.locator("[data-testid=busy]")).to_be_hidden()
    assert len(held) == 1
    hr.finish("busy-try")
