"""Every page a role can reach from its navigation, in both languages, on a phone.

From the navigation (and the admin hub and 更多), one step further through each page's
links and GET forms: no server error, no broken link, no console error, nothing wider
than the 390 px screen, tables as cards with no word broken a character per line, no
text left in the other language, and no emoji (icons are SVG).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from babel.messages.pofile import read_po

from points.i18n import catalog_path
from tests.support.journeys import Login, Site, Visit

# Links that do something rather than show a page, or leave the product.
NOT_PAGES = re.compile(r"^/(lang|logout|login/wecom)|\.csv(\?|$)|/picture$")
MAX_PAGES = 45

# English words that are product or technical names, fine on a Chinese page.
NAMES = {"WeCom", "English", "API", "CSV", "REST", "ID", "URL", "IP", "HR", "userid", "token"}
# Text of these elements is data or code, not interface: it is not translated.
UNTRANSLATED_OK = "code, pre, textarea, script, style, noscript, [translate=no], .lang"

with open(catalog_path("zh_CN"), "rb") as _f:
    # Chinese interface phrases (3+ characters): on an English page they mean a missed
    # translation. Short ones could be part of a name.
    ZH_PHRASES = sorted(
        {
            m.string
            for m in read_po(_f, locale="zh_CN")
            if m.id and isinstance(m.string, str) and re.fullmatch(r"[\u4e00-\u9fff]{4,}", m.string)
        }
    )


def visible_text(visit: Visit) -> str:
    return str(
        visit.page.evaluate(
            """(skip) => {
                const root = document.body.cloneNode(true);
                root.querySelectorAll(skip).forEach((e) => e.remove());
                return root.innerText;
            }""",
            UNTRANSLATED_OK,
        )
    )


def untranslated(visit: Visit) -> list[str]:
    # Commands quoted in `backticks` are typed as they are, in any language.
    text = re.sub(r"`[^`]*`", "", visible_text(visit))
    if visit.locale == "zh_CN":
        phrases = re.findall(r"[A-Za-z][A-Za-z']+(?:[ ,]+[A-Za-z][A-Za-z']+)+", text)
        return [p for p in phrases if not set(p.replace(",", " ").split()) <= NAMES]
    return [p for p in ZH_PHRASES if p in text]


# Emoji pictographs need a font many phones lack (they show as empty boxes); plain
# dingbats such as ✓ are in the Chinese fonts and may stay.
PICTOGRAPHS = re.compile("[\U0001f000-\U0001faff\u2600-\u26ff]")


def pictographs(visit: Visit) -> list[str]:
    return sorted(set(PICTOGRAPHS.findall(visible_text(visit))))


def squeezed(visit: Visit) -> list[str]:
    """Tables that are not cards or do not fit on the phone, and cells or buttons so
    narrow that their words break a character per line."""
    return list(
        visit.page.evaluate(
            """() => {
                const found = [];
                for (const table of document.querySelectorAll("main table")) {
                    if (!table.offsetParent) continue;
                    const box = table.parentElement.clientWidth;
                    if (!table.classList.contains("cards")) found.push("a table that is not cards");
                    if (table.scrollWidth > box + 1)
                        found.push(`a table ${table.scrollWidth}px wide in ${box}px`);
                }
                for (const el of document.querySelectorAll("main td, main th, main button")) {
                    const text = el.innerText.trim();
                    if (!el.offsetParent || text.length < 2) continue;
                    const em = parseFloat(getComputedStyle(el).fontSize);
                    const lines = el.getBoundingClientRect().height / (em * 1.2);
                    if (el.getBoundingClientRect().width < 1.9 * em && lines >= 2)
                        found.push(`"${text.slice(0, 12)}" one character per line`);
                }
                return found;
            }"""
        )
    )


def links_and_forms(visit: Visit) -> list[str]:
    """Same-site links, and each GET form submitted as it stands."""
    found: list[str] = visit.page.eval_on_selector_all(
        "a[href]", "(links) => links.map((a) => a.getAttribute('href'))"
    )
    forms = visit.page.eval_on_selector_all(
        "form",
        """(forms) => forms
            .filter((f) => (f.getAttribute('method') || 'get').toLowerCase() === 'get'
                           || f.hasAttribute('hx-get'))
            .map((f) => [f.getAttribute('hx-get') || f.getAttribute('action') || '',
                         Array.from(new FormData(f).entries())])""",
    )
    for action, fields in forms:
        query = urlencode([(k, v) for k, v in fields if isinstance(v, str)])
        found.append(f"{action or visit.path().split('?')[0]}?{query}")
    pages = []
    for href in found:
        url = urljoin(visit.base + visit.path(), href)
        parts = urlsplit(url)
        if not url.startswith(visit.base) or (parts.fragment and not parts.path):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not NOT_PAGES.search(path):
            pages.append(path)
    return pages


ROLES = ["employee", "head", "hr", "admin"]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("role", ROLES)
def test_every_reachable_page_works_on_a_phone(
    site: Site, login: Login, role: str, locale: str
) -> None:
    userid = {
        "employee": site.employees[-1],
        "head": next(iter(site.heads)),
        "hr": site.hr,
        "admin": site.admin,
    }[role]
    visit = login(userid, locale, "phone")
    starts = ["/", "/more", *links_and_forms(visit)]
    seen: set[str] = set()
    queue = [(path, 0) for path in starts]
    problems: list[str] = []
    while queue and len(seen) < MAX_PAGES:
        path, depth = queue.pop(0)
        # Pages of one kind (another person, another reward) are crawled once.
        kind = re.sub(r"/\d+|/[a-z]+\d+[a-z\d]*$|\?.*", "/*", path)
        if path in seen or (kind in seen and depth > 0):
            continue
        seen.update({path, kind})
        status = visit.go(path)
        if status >= 400:
            problems.append(f"{path}: HTTP {status}")
            continue
        try:
            visit.fits()
        except AssertionError as wide:
            problems.append(str(wide))
        for squeeze in squeezed(visit):
            problems.append(f"{path}: {squeeze}")
        for phrase in untranslated(visit):
            problems.append(f"{path}: not translated: {phrase!r}")
        for symbol in pictographs(visit):
            problems.append(f"{path}: shows {symbol!r}, which needs an emoji font")
        if depth == 0:
            for link in links_and_forms(visit):
                if link not in seen:
                    queue.append((link, depth + 1))
        else:
            # Links two steps away are only checked to answer, not rendered.
            for link in links_and_forms(visit):
                if link in seen:
                    continue
                response = visit.page.request.get(visit.base + link, max_redirects=0)
                if response.status >= 400 and response.status != 403:
                    problems.append(f"{path} links to {link}: HTTP {response.status}")
    problems += visit.errors
    assert len(seen) > 3
    assert problems == [], "\n".join(problems)
