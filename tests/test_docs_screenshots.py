"""docs/screenshots.md links every picture under docs/screenshots/, and only existing ones."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_screenshot_is_linked_and_every_link_exists():
    linked = set(
        re.findall(r"\]\((screenshots/[^)]+\.png)\)", (DOCS / "screenshots.md").read_text())
    )
    stored = {f"screenshots/{path.name}" for path in (DOCS / "screenshots").glob("*.png")}
    assert linked == stored
    pages = {"event", "form", "confirmation", "personal", "sign-in-sheet", "cue-card"}
    assert stored == {f"screenshots/{page}-{width}.png" for page in pages for width in (390, 1366)}


def test_the_screenshots_stay_small():
    total = sum(path.stat().st_size for path in (DOCS / "screenshots").glob("*.png"))
    assert total < 4 * 1024 * 1024
