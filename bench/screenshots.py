"""Screenshots of the participants' and moderators' pages of the demo data, for docs/.

Run against a running demo site (``manage.py load_demo`` and ``manage.py runserver``), from
the project directory with the same settings and database as that site (DATABASE_URL, and
DJANGO_DEBUG=1 for a local demo): the script reads the database for the personal link and
makes a moderator account to log in with. It takes, at 390 px and 1,366 px wide, full-page
pictures of the Dag van de Buurt demo's event page and registration form, the confirmation
page after registering through the form, a personal page, the sign-in sheet and the cue
card of the first session, and stores them as small palette PNGs in docs/screenshots/.

    python bench/screenshots.py [--site http://127.0.0.1:8000] [--out docs/screenshots]

It registers one demo participant (screenshots@example.nl) on the demo event and registers
a new address through the form each run; load_demo removes demo registrations again.
"""

import argparse
import io
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EVENT_SLUG = "demo-dag-van-de-buurt"
WIDTHS = [390, 1366]
MODERATOR = "screenshots"
# Palette colours per picture: the site uses a handful of colours; text stays sharp.
COLOURS = 64


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare(password):
    """The demo event, a participant with a seat and a waiting-list place, and a
    moderator of the first session; returns (event, registration, offering)."""
    from django.contrib.auth.models import User

    from events.models import Event
    from registrations import services

    event = Event.objects.get(slug=EVENT_SLUG)
    first_round, second_round = event.rounds.order_by("day", "starts_at", "order")[:2]
    offering = first_round.offerings.current().order_by("order", "session__order", "pk").first()
    other = (
        second_round.offerings.current()
        .exclude(session=offering.session)
        .order_by("order", "session__order", "pk")
        .first()
    )
    registration = event.registrations.filter(email="screenshots@example.nl").first()
    if registration is None:
        registration = services.register_attendee(
            event,
            person=services.Person(
                name="Sam de Vries",
                email="screenshots@example.nl",
                role="resident",
                organisation="Bewonersvereniging De Wijk",
                question="Hoe houden we jongeren erbij?",
            ),
            offering_ids=[offering.pk, other.pk],
        ).registration
    user, _created = User.objects.get_or_create(
        username=MODERATOR, defaults={"email": "screenshots@example.nl"}
    )
    user.set_password(password)
    user.is_staff = True
    user.save()
    offering.moderators.add(user)
    return event, registration, offering


def save_png(png, path):
    """A palette PNG of the screenshot: a fraction of the size of the full-colour one."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)


def shoot(page, url, path):
    response = page.goto(url)
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    save_png(page.screenshot(full_page=True), path)
    print(f"{path} ({path.stat().st_size // 1024} kB) <- {url}")


def register_through_form(page, site, width):
    """Fill in the form as a visitor does; returns the confirmation page's URL."""
    page.goto(f"{site}/evenementen/{EVENT_SLUG}/aanmelden/")
    page.fill("#id_name", "Noor Jansen")
    page.fill("#id_email", f"noor.{width}.{secrets.token_hex(3)}@example.nl")
    page.check("input[name=role][value=resident]")
    for group in page.locator("fieldset:has(input[name^=round_])").all():
        group.locator("input[type=radio]").first.check()
    page.check("#id_consent")
    with page.expect_navigation():
        page.locator("form.registration-form button[type=submit]").click()
    return page.url


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    )
    args = parser.parse_args()
    setup_django()
    from playwright.sync_api import sync_playwright

    password = secrets.token_urlsafe(16)
    event, registration, offering = prepare(password)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    site = args.site.rstrip("/")
    pages = {
        "event": event.get_absolute_url(),
        "form": f"/evenementen/{EVENT_SLUG}/aanmelden/",
        "personal": registration.get_absolute_url(),
    }
    staff_pages = {
        "sign-in-sheet": f"/lijsten/sessie/{offering.pk}/",
        "cue-card": f"/lijsten/sessie/{offering.pk}/moderatorkaart/",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900}, locale="nl-NL")
            page = context.new_page()
            for name, url in pages.items():
                shoot(page, site + url, out / f"{name}-{width}.png")
            done = register_through_form(page, site, width)
            shoot(page, done, out / f"confirmation-{width}.png")
            page.goto(f"{site}/account/login/")
            page.fill("#id_username", MODERATOR)
            page.fill("#id_password", password)
            with page.expect_navigation():
                page.locator("main form button[type=submit]").click()
            for name, url in staff_pages.items():
                shoot(page, site + url, out / f"{name}-{width}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
