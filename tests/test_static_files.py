"""Static files as a release collects them: hashed names, compressed, cached for long."""

import json

from tests.production import production_env, results, run_django


def test_collected_static_files_are_hashed_compressed_and_cached_for_long(static_root):
    env = production_env(DJANGO_STATIC_ROOT=str(static_root))
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/site.css"]
    code = (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='programma.example.nl', HTTP_X_FORWARDED_PROTO='https')\n"
        f"r = c.get('/static/{hashed}', HTTP_ACCEPT_ENCODING='gzip')\n"
        "print('RESULT', r.status_code, r['Cache-Control'], r.get('Content-Encoding'))\n"
    )

    result = run_django(code, env)

    assert hashed != "css/site.css"
    assert results(result) == ["200 max-age=315360000, public, immutable gzip"], result.stderr
