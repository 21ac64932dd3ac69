"""The programme editor: one page per event where the whole day is built and changed.

A view of EventAdmin (see EventAdmin.get_urls), with the admin's look and permissions.
Every form on the page posts an ``action`` and a ``target``; a form with errors is shown
again in its place with what was typed (status 400). Changes that may touch booked people
(times, rounds, rooms, seats) go through ``EventAdmin.programme_change``, which the
registrations app extends with its consequences step.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Prefetch, Q, Value
from django.db.models.functions import Concat, Lower
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _

from sitewide.admin import primary_key
from speakers.models import Organisation, Speaker

from . import page_scopes
from .admin_views import _context, _event_for
from .editor_forms import (
    BlockForm,
    ModeratorForm,
    NewSessionForm,
    OfferExistingForm,
    OfferingForm,
    PersonForm,
    RoundForm,
    SessionTextForm,
)
from .models import (
    BLOCK_ORDER,
    ProgrammeBlock,
    RoleLabel,
    Round,
    Session,
    SessionKind,
    SessionOffering,
    SessionRole,
)
from .session_sheet import _unique, _used_slugs

SEARCH_RESULTS = 10
EDITING = "bewerk"  # ?bewerk=<session pk>: the session card open for editing


class Page:
    """Everything the editor shows, in a constant number of queries, with a form for each
    thing; `failed` (prefix: bound form) puts a form with errors back in its place.

    Only one session card is open for editing (`editing`, a session's pk, or the card of
    a failed form): the forms of every other card are not built, which keeps the page small.
    """

    def __init__(self, event, failed=None, search=None, editing=None):
        self.event = event
        self.failed = failed or {}
        self.requested = editing
        self.kinds = list(SessionKind.objects.all())
        self.roles = list(RoleLabel.objects.all())
        offerings = (
            SessionOffering.objects.current()
            .select_related("session", "last_round")
            .annotate(booked=Count("choices", filter=~Q(choices__status="cancelled")))
            .prefetch_related("moderators")
            .order_by("order", "session__order", "pk")
        )
        self.blocks = list(event.programme_blocks.order_by(*BLOCK_ORDER))
        self.rounds = list(
            event.rounds.order_by(*BLOCK_ORDER).prefetch_related(
                Prefetch("offerings", queryset=offerings, to_attr="placed")
            )
        )
        self.sessions = list(
            event.sessions.select_related("kind")
            .prefetch_related(
                Prefetch(
                    "roles",
                    queryset=SessionRole.objects.select_related(
                        "speaker__organisation", "role"
                    ).order_by("order", "pk"),
                )
            )
            .order_by("order", "title")
        )
        self.search = search
        self._attach_forms()

    def form(self, prefix, make):
        return self.failed.get(prefix) or make(prefix)

    def _attach_forms(self):
        event, rounds = self.event, self.rounds
        by_pk = {session.pk: session for session in self.sessions}
        offerings = {offering.pk: offering for r in rounds for offering in r.placed}
        self.editing = self._card_being_edited(offerings)
        for session in self.sessions:
            session.rounds_in = []
            session.editing = session.pk == self.editing
        for item in [*self.blocks, *self.rounds, *self.sessions]:
            item.anchor = f"{ANCHORS.get(type(item), type(item)._meta.model_name)}-{item.pk}"
        for block in self.blocks:
            block.form = self.form(
                f"block-{block.pk}", lambda p, b=block: BlockForm(instance=b, event=event, prefix=p)
            )
        for round_ in rounds:
            round_.form = self.form(
                f"round-{round_.pk}",
                lambda p, r=round_: RoundForm(instance=r, event=event, prefix=p),
            )
            round_.new_session_form = self.form(
                f"new-session-{round_.pk}", lambda p: NewSessionForm(kinds=self.kinds, prefix=p)
            )
            in_round = {offering.session_id for offering in round_.placed}
            round_.offer_form = self.form(
                f"offer-{round_.pk}",
                lambda p, taken=in_round: OfferExistingForm(
                    sessions=[s for s in self.sessions if s.pk not in taken], prefix=p
                ),
            )
            for position, offering in enumerate(round_.placed):
                offering.session = by_pk[offering.session_id]
                offering.anchor = f"offering-{offering.pk}"
                offering.first = not offering.session.rounds_in
                offering.session.rounds_in.append(round_)
                offering.is_first_in_round = position == 0
                offering.is_last_in_round = position == len(round_.placed) - 1
                if offering.session.editing:
                    offering.form = self.form(
                        f"offering-{offering.pk}",
                        lambda p, o=offering: OfferingForm(instance=o, rounds=rounds, prefix=p),
                    )
                    offering.moderator_form = self.form(
                        f"moderator-{offering.pk}", lambda p: ModeratorForm(prefix=p)
                    )
        for session in self.sessions:
            if not session.editing:
                continue
            session.text_form = self.form(
                f"session-{session.pk}",
                lambda p, s=session: SessionTextForm(
                    initial=SessionTextForm.initial_for(s), kinds=self.kinds, prefix=p
                ),
            )
            session.person_form = self.form(
                f"person-{session.pk}",
                lambda p: PersonForm(roles=self.roles, initial={"role": "leader"}, prefix=p),
            )
            session.search = self.search
        self.unplaced = [session for session in self.sessions if not session.rounds_in]
        self.new_block_form = self.form("new-block", lambda p: BlockForm(event=event, prefix=p))
        self.new_round_form = self.form("new-round", lambda p: RoundForm(event=event, prefix=p))

    def _card_being_edited(self, offerings):
        """The session whose card is open: the one of a form with errors, else the one asked
        for (if it is this event's)."""
        for prefix in self.failed:
            kind, _, pk = prefix.rpartition("-")
            if kind in ("session", "person"):
                return int(pk)
            if kind in ("offering", "moderator") and int(pk) in offerings:
                return offerings[int(pk)].session_id
        if any(session.pk == self.requested for session in self.sessions):
            return self.requested
        return None

    def timeline(self):
        start = self.event.start_date
        return sorted(
            [*self.blocks, *self.rounds],
            key=lambda item: (
                item.day or start,
                item.starts_at,
                item.order,
                isinstance(item, Round),
            ),
        )


def programme_editor(model_admin, request, object_id):
    event = _event_for(model_admin, request, object_id, "change")
    failed = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        handler = ACTIONS.get(action)
        target = primary_key(request.POST.get("target", ""))
        if handler is None or (action not in UNTARGETED and target is None):
            return _render(model_admin, request, event, status=400)
        result = handler(model_admin, request, event, target)
        if isinstance(result, dict):
            failed = result
        elif result is not None and not isinstance(result, str):
            return result  # the consequences page
        else:
            return redirect(
                reverse("admin:events_event_programme", args=[event.pk]) + (result or "")
            )
    return _render(model_admin, request, event, failed, status=400 if failed else 200)


def at(anchor, editing=None):
    """Where to go back to after a change: an anchor on the page, in the card of session
    `editing` kept open."""
    return f"?{EDITING}={editing}#{anchor}" if editing else f"#{anchor}"


def _render(model_admin, request, event, failed=None, status=200):
    editing = primary_key(request.GET.get(EDITING, ""))
    search = _search(request, editing)
    page = Page(event, failed, search, editing)
    if failed is None and status == 400:
        messages.error(request, _("This form is out of date; please try again."))
    return TemplateResponse(
        request,
        "admin/events/event/programme_editor.html",
        _context(
            model_admin,
            request,
            event,
            _("Programme editor"),
            page=page,
            timeline=page.timeline(),
            failed=bool(failed),
            public_url=event.get_absolute_url(),
            editor_url=request.path,
            editing_parameter=EDITING,
        ),
        status=status,
    )


def _search(request, editing):
    """People found for the open card's search box (the form that works without JS)."""
    text = request.GET.get("zoek", "").strip()[:100]
    if editing is None or not text:
        return None
    return {"text": text, "people": list(_speakers_matching(text))}


def _speakers_matching(text):
    words = text.split()
    speakers = Speaker.objects.select_related("organisation")
    for word in words:
        speakers = speakers.filter(Q(name__icontains=word) | Q(organisation__name__icontains=word))
    return speakers.order_by("name")[:SEARCH_RESULTS]


def people_search(model_admin, request, object_id):
    """Suggestions for the name fields (the editor's small script): speakers by name and
    organisation, or users by name, user name and e-mail address."""
    _event_for(model_admin, request, object_id, "change")
    text = request.GET.get("q", "").strip()[:100]
    if len(text) < 2:
        return JsonResponse({"results": []})
    if request.GET.get("wie") == "users":
        users = get_user_model().objects.filter(
            Q(username__icontains=text)
            | Q(email__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
        )
        results = [
            {"value": user.username, "label": user.get_full_name() or user.email}
            for user in users.order_by("username")[:SEARCH_RESULTS]
        ]
    else:
        results = [
            {
                "value": speaker.name,
                "label": speaker.organisation.name if speaker.organisation_id else "",
            }
            for speaker in _speakers_matching(text)
        ]
    return JsonResponse({"results": results})


# Actions. Each returns where to go back to (`at`), a {prefix: form} with errors, or a
# response (the consequences step).


def _timed_item(form_class, kind):
    def add(model_admin, request, event, target):
        form = form_class(request.POST, event=event, prefix=f"new-{kind}")
        if not form.is_valid():
            return {form.prefix: form}
        item = form.save(commit=False)
        model = type(item)
        item.order = (
            model.objects.filter(event=event).aggregate(Max("order"))["order__max"] or 0
        ) + 1
        item.save()
        messages.success(request, _("“%(title)s” added.") % {"title": item.title})
        return at(f"{kind}-{item.pk}")

    def edit(model_admin, request, event, target):
        item = form_class._meta.model.objects.filter(event=event, pk=target).first()
        if item is None:
            return None
        form = form_class(request.POST, instance=item, event=event, prefix=f"{kind}-{item.pk}")
        if not form.is_valid():
            return {form.prefix: form}
        response = model_admin.programme_change(request, event, **{f"{kind}s": [form.instance]})
        if response is None:
            messages.success(request, _("“%(title)s” saved.") % {"title": form.instance.title})
        return response or at(f"{kind}-{item.pk}")

    return add, edit


add_block, edit_block = _timed_item(BlockForm, "block")
add_round, edit_round = _timed_item(RoundForm, "round")


def _delete(model, refuse=True):
    def delete(model_admin, request, event, target):
        from .admin import refusal  # the admin imports this module

        item = model.objects.filter(event=event, pk=target).first()
        if item is None:
            return None
        reason = refuse and refusal(item)
        if reason:
            messages.error(request, reason)
            return at(f"{ANCHORS.get(model, model._meta.model_name)}-{item.pk}")
        item.delete()
        messages.success(request, _("“%(name)s” deleted.") % {"name": item})
        return at("tijdlijn")

    return delete


def add_new_session(model_admin, request, event, target):
    round_ = Round.objects.filter(event=event, pk=target).first()
    if round_ is None:
        return None
    kinds = list(SessionKind.objects.all())
    form = NewSessionForm(request.POST, kinds=kinds, prefix=f"new-session-{round_.pk}")
    if not form.is_valid():
        return {form.prefix: form}
    data = form.cleaned_data
    with transaction.atomic():
        base = slugify(data["title"])[:190] or "sessie"
        used = set(event.sessions.values_list("slug", flat=True))
        session = Session.objects.create(
            event=event,
            title=data["title"],
            slug=_unique(base, used),
            kind_id=data["kind"],
            summary=data["summary"],
            description=data["summary"],
            order=_next_order(event.sessions),
        )
        SessionOffering.objects.create(
            event=event,
            session=session,
            round=round_,
            capacity=data["capacity"],
            location=data["location"],
            order=_next_order(round_.offerings),
        )
    messages.success(request, _("“%(title)s” added.") % {"title": session.title})
    return at(f"session-{session.pk}", session.pk)


def _next_order(queryset):
    return (queryset.aggregate(Max("order"))["order__max"] or 0) + 1


def offer_existing(model_admin, request, event, target):
    round_ = Round.objects.filter(event=event, pk=target).first()
    if round_ is None:
        return None
    taken = round_.offerings.values_list("session_id", flat=True)
    sessions = list(event.sessions.exclude(pk__in=taken))
    form = OfferExistingForm(request.POST, sessions=sessions, prefix=f"offer-{round_.pk}")
    if not form.is_valid():
        return {form.prefix: form}
    session = next(s for s in sessions if s.pk == form.cleaned_data["session"])
    model = session.offerings.current().order_by("round__starts_at", "pk").first()
    offering = SessionOffering.objects.create(
        event=event,
        session=session,
        round=round_,
        capacity=model.capacity if model else None,
        location=model.location if model else "",
        order=_next_order(round_.offerings),
    )
    messages.success(
        request,
        _("“%(session)s” is also in %(round)s now.")
        % {"session": session.title, "round": round_.title},
    )
    return at(f"offering-{offering.pk}")


def edit_session(model_admin, request, event, target):
    session = Session.objects.filter(event=event, pk=target).first()
    if session is None:
        return None
    form = SessionTextForm(
        request.POST, kinds=list(SessionKind.objects.all()), prefix=f"session-{session.pk}"
    )
    if not form.is_valid():
        return {form.prefix: form}
    for name, value in form.cleaned_data.items():
        setattr(session, "kind_id" if name == "kind" else name, value)
    session.save()
    messages.success(request, _("“%(title)s” saved.") % {"title": session.title})
    return at(f"session-{session.pk}", session.pk)


def _offering(event, target):
    return (
        SessionOffering.objects.current()
        .select_related("session", "round")
        .filter(event=event, pk=target)
        .first()
    )


def edit_offering(model_admin, request, event, target):
    offering = _offering(event, target)
    if offering is None:
        return None
    rounds = list(event.rounds.order_by(*BLOCK_ORDER))
    form = OfferingForm(
        request.POST, instance=offering, rounds=rounds, prefix=f"offering-{offering.pk}"
    )
    if not form.is_valid():
        return {form.prefix: form}
    response = model_admin.programme_change(request, event, offerings=[form.instance])
    if response is None:
        messages.success(request, _("“%(name)s” saved.") % {"name": form.instance})
    return response or at(f"offering-{offering.pk}", offering.session_id)


def move_offering(step):
    def move(model_admin, request, event, target):
        offering = _offering(event, target)
        if offering is None:
            return None
        siblings = list(
            offering.round.offerings.current().order_by("order", "session__order", "pk")
        )
        index = next(i for i, other in enumerate(siblings) if other.pk == offering.pk)
        if 0 <= index + step < len(siblings):
            siblings[index], siblings[index + step] = siblings[index + step], siblings[index]
            for order, other in enumerate(siblings, start=1):
                if other.order != order:
                    SessionOffering.objects.filter(pk=other.pk).update(order=order)
            page_scopes.event_changed(event.pk)  # update() sends no signals
        return at(f"offering-{offering.pk}")

    return move


def add_person(model_admin, request, event, target):
    session = Session.objects.filter(event=event, pk=target).first()
    if session is None:
        return None
    form = PersonForm(request.POST, roles=list(RoleLabel.objects.all()), prefix=f"person-{target}")
    if not form.is_valid():
        return {form.prefix: form}
    name, organisation = form.cleaned_data["name"], form.cleaned_data["organisation"]
    speakers = Speaker.objects.filter(name__iexact=name)
    if organisation:
        speakers = speakers.filter(organisation__name__iexact=organisation)
    found = list(speakers[:2])
    if len(found) > 1:
        form.add_error(
            "organisation",
            _("Several people are called “%(name)s”: fill in the organisation, or search.")
            % {"name": name},
        )
        return {form.prefix: form}
    with transaction.atomic():
        speaker = found[0] if found else _new_speaker(name, organisation)
        if not _add_role(session, speaker, form.cleaned_data["role"]):
            form.add_error("name", _("This person already has this role in the session."))
            return {form.prefix: form}
    messages.success(request, _("%(name)s added.") % {"name": speaker})
    return at(f"session-{session.pk}", session.pk)


def _new_speaker(name, organisation_name):
    organisation = None
    if organisation_name:
        organisation = (
            Organisation.objects.annotate(lower=Lower("name"))
            .filter(lower=organisation_name.lower())
            .first()
        )
        if organisation is None:
            base = slugify(organisation_name)[:190] or "organisatie"
            organisation = Organisation.objects.create(
                name=organisation_name, slug=_unique(base, _used_slugs(Organisation, [base]))
            )
    base = slugify(name)[:190] or "spreker"
    return Speaker.objects.create(
        name=name, organisation=organisation, slug=_unique(base, _used_slugs(Speaker, [base]))
    )


def _add_role(session, speaker, role):
    if SessionRole.objects.filter(session=session, speaker=speaker, role_id=role).exists():
        return False
    try:
        with transaction.atomic():
            SessionRole.objects.create(
                session=session, speaker=speaker, role_id=role, order=_next_order(session.roles)
            )
    except IntegrityError:  # added at the same moment by someone else
        return False
    return True


def pick_person(model_admin, request, event, target):
    """A person chosen from the search results (the form without JS)."""
    session = Session.objects.filter(event=event, pk=target).first()
    speaker = Speaker.objects.filter(pk=primary_key(request.POST.get("speaker", ""))).first()
    role = request.POST.get("role", "leader")
    if session is None or speaker is None or not RoleLabel.objects.filter(code=role).exists():
        return None
    if _add_role(session, speaker, role):
        messages.success(request, _("%(name)s added.") % {"name": speaker})
    return at(f"session-{session.pk}", session.pk)


def remove_person(model_admin, request, event, target):
    role = SessionRole.objects.filter(session__event=event, pk=target).first()
    if role is None:
        return None
    role.delete()
    messages.success(request, _("%(name)s removed.") % {"name": role.name})
    return at(f"session-{role.session_id}", role.session_id)


def add_moderator(model_admin, request, event, target):
    offering = _offering(event, target)
    if offering is None:
        return None
    form = ModeratorForm(request.POST, prefix=f"moderator-{offering.pk}")
    if not form.is_valid():
        return {form.prefix: form}
    text = form.cleaned_data["person"]
    users = (
        get_user_model()
        .objects.annotate(full_name=Lower(Concat("first_name", Value(" "), "last_name")))
        .filter(Q(username__iexact=text) | Q(email__iexact=text) | Q(full_name=text.lower()))
    )
    found = list(users[:2])
    if len(found) != 1:
        message = (
            _("Several people match “%(text)s”: give the user name or e-mail address.")
            if found
            else _("Nobody with a login is known by “%(text)s”.")
        )
        form.add_error("person", message % {"text": text})
        return {form.prefix: form}
    offering.moderators.add(found[0])
    messages.success(request, _("%(name)s added.") % {"name": found[0].get_full_name() or found[0]})
    return at(f"offering-{offering.pk}", offering.session_id)


def remove_moderator(model_admin, request, event, target):
    offering = _offering(event, target)
    user = primary_key(request.POST.get("user", ""))
    if offering is None or user is None:
        return None
    offering.moderators.remove(user)
    messages.success(request, _("Removed from the session staff."))
    return at(f"offering-{offering.pk}", offering.session_id)


ACTIONS = {
    "block-add": add_block,
    "block-edit": edit_block,
    "block-delete": _delete(ProgrammeBlock, refuse=False),
    "round-add": add_round,
    "round-edit": edit_round,
    "round-delete": _delete(Round),
    "session-new": add_new_session,
    "session-edit": edit_session,
    "session-delete": _delete(Session),
    "offer": offer_existing,
    "offering-edit": edit_offering,
    "offering-delete": _delete(SessionOffering),
    "offering-up": move_offering(-1),
    "offering-down": move_offering(1),
    "person-add": add_person,
    "person-pick": pick_person,
    "person-remove": remove_person,
    "moderator-add": add_moderator,
    "moderator-remove": remove_moderator,
}
ANCHORS = {SessionOffering: "offering", ProgrammeBlock: "block"}
UNTARGETED = {"block-add", "round-add"}
