from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from points.i18n import _, catalog_path, negotiate, normalize_locale, use_locale

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_has_a_chinese_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "--no-location",
            "--omit-header",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with open(catalog_path("zh_CN"), "rb") as f:
        catalog = read_po(f, locale="zh_CN")
    untranslated = sorted(str(i) for i in wanted if not (catalog.get(i) and catalog.get(i).string))
    assert untranslated == [], "add these to web/translations/zh_CN (make messages)"


def test_translation_follows_the_locale() -> None:
    with use_locale("zh_CN"):
        assert _("My points") == "我的积分"
    with use_locale("en"):
        assert _("My points") == "My points"


def test_locale_negotiation() -> None:
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("fr-FR, zh-CN;q=0.8") == "zh_CN"
    assert negotiate("fr") is None
    assert normalize_locale("zh-cn") == "zh_CN"
