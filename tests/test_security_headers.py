"""Security headers on every answer, and pages that keep to the Content Security Policy."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.factories import SeriesFactory, SpeakerFactory, build_programme
from tests.production import ROOT

TEMPLATES = ROOT / "templates"


@pytest.mark.django_db
def test_pages_carry_security_headers(client):
    response = client.get(reverse("events:home"))

    assert response["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Permissions-Policy"].startswith("camera=()")


@pytest.mark.django_db
def test_error_pages_carry_security_headers_too(client):
    response = client.get("/bestaat/niet/")

    assert "Content-Security-Policy" in response
    assert response["X-Content-Type-Options"] == "nosniff"


class InlineCodeFinder(HTMLParser):
    """What a `script-src 'self'; style-src 'self'` policy would block."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # JSON-LD is data, never executed: script-src does not apply to it.
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/ld+json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs.items():
            if name == "style":
                self.found.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code(html):
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


def test_templates_contain_no_inline_scripts_or_styles():
    found = {}
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.relative_to(TEMPLATES).parts:
            continue  # e-mails are not pages; mail clients need inline styles
        if problems := inline_code(path.read_text()):
            found[str(path.relative_to(TEMPLATES))] = problems

    assert found == {}


@pytest.mark.django_db
def test_rendered_pages_satisfy_the_content_security_policy(client, admin_client):
    series = SeriesFactory()
    event = build_programme(sessions=2, rounds=2, series=series)
    session = event.sessions.first()
    speaker = SpeakerFactory()
    register = reverse("registrations:create", args=[event.slug])
    pages = {
        "home": client.get(reverse("events:home")),
        "event": client.get(event.get_absolute_url()),
        "session": client.get(session.get_absolute_url()),
        "series": client.get(reverse("events:series", args=[series.slug])),
        "speaker": client.get(speaker.get_absolute_url()),
        "registration form": client.get(register),
        "registration form with errors": client.post(register, {"name": ""}),
        "series form": client.get(reverse("registrations:series", args=[series.slug])),
        "privacy": client.get(reverse("registrations:privacy")),
        "404": client.get("/bestaat/niet/"),
        "admin": admin_client.get(reverse("admin:index")),
        "admin event": admin_client.get(reverse("admin:events_event_change", args=[event.pk])),
    }

    found = {name: inline_code(r.content.decode()) for name, r in pages.items()}

    assert {name: r.status_code for name, r in pages.items()} == {
        **dict.fromkeys(pages, 200),
        "registration form with errors": 400,
        "404": 404,
    }
    assert {name: problems for name, problems in found.items() if problems} == {}


@pytest.mark.browser
def test_browser_reports_no_csp_violations(page, live_server, transactional_db):
    event = build_programme(sessions=2, rounds=2)
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    console = []
    page.on("console", lambda message: console.append(message.text))
    violations = {}
    for path in [
        reverse("events:home"),
        event.get_absolute_url(),
        reverse("registrations:create", args=[event.slug]),
        "/bestaat/niet/",
    ]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        if path.endswith("/aanmelden/"):
            with page.expect_navigation():
                page.get_by_role(
                    "button", name="Aanmelden", exact=True
                ).click()  # errors: forms.js runs
            assert page.evaluate("document.activeElement.id") == "error-summary"
        violations[path] = page.evaluate("window.__csp")

    assert {path: v for path, v in violations.items() if v} == {}
    assert [text for text in console if "Content Security Policy" in text] == []
