from django.shortcuts import get_object_or_404, render

from sitewide.pagecache import page_cached

from .models import Speaker


# Lists sessions of events everywhere: renewed with any programme (events.page_scopes).
@page_cached(scopes=lambda **kwargs: ("site", "listing"))
def speaker_detail(request, slug):
    speaker = get_object_or_404(Speaker.objects.for_speaker_page(), slug=slug)
    return render(request, "speakers/speaker_detail.html", {"speaker": speaker})
