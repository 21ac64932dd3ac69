"""The interface speaks Dutch: every text marked for translation has its Dutch translation."""

import shutil
import subprocess
import sys

from tests.production import ROOT, production_env

# What makemessages reads for the "django" domain: the apps, the templates, the settings.
SOURCES = ["config", "events", "registrations", "sitewide", "speakers", "templates", "locale"]


def test_every_text_marked_for_translation_has_a_dutch_translation(tmp_path):
    """makemessages on a copy of the sources (it rewrites the catalogue it reads), then the
    entries of the Dutch catalogue without a translation, or with a guessed (fuzzy) one."""
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.mo"))
    shutil.copy(ROOT / "manage.py", tmp_path)
    made = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "nl", "--no-location", "-v0"],
        cwd=tmp_path,
        env=production_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    catalogue = tmp_path / "locale" / "nl" / "LC_MESSAGES" / "django.po"

    def entries(*options):
        listed = subprocess.run(
            ["msgattrib", *options, "--no-obsolete", str(catalogue)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [
            block for block in listed.split("\n\n") if block and 'msgid ""\nmsgstr ""' not in block
        ]

    assert entries("--untranslated") == []
    assert entries("--only-fuzzy") == []
