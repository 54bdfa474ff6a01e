"""Two small HTML pages to watch the sample app: its users and the callbacks the
platform delivered (newest last), and one user's codes to show to the terminal."""

from __future__ import annotations

from ecard_sdk import PaymentCodeGenerator
from flask import Blueprint, current_app, render_template_string

from samples.channel_server.store import Store

bp = Blueprint("pages", __name__)

_STYLE = """<style>body{font:16px/1.4 sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:.2em .6em;text-align:left}img{image-rendering:pixelated}
</style>"""

_INDEX = _STYLE + """<title>sample channel {{ channel }}</title>
<h1>Sample channel {{ channel }}</h1>
<p>Platform: {{ platform }} · JSON API under <code>/api</code> · callbacks at
<code>/callbacks</code></p>
<h2>Users</h2>
<table><tr><th>user</th><th>sign_no</th><th>e-card</th><th>payment device</th></tr>
{% for u in users %}<tr><td><a href="/users/{{ u.username }}">{{ u.username }}</a></td>
<td>{{ u.sign_no or '-' }}</td><td>{{ u.card_status or '-' }}</td>
<td>{{ u.device_id or '-' }}</td></tr>{% else %}<tr><td colspan=4>none yet</td></tr>
{% endfor %}</table>
<h2>Callbacks received (verified, each id once)</h2>
<table><tr><th>#</th><th>id</th><th>event</th><th>sign_no</th><th>occurred</th>
<th>attempt</th><th>deliveries</th><th>received</th></tr>
{% for c in callbacks %}<tr><td>{{ c.seq }}</td><td>{{ c.id }}</td><td>{{ c.event }}</td>
<td>{{ c.sign_no or '-' }}</td><td>{{ c.occurred_at }}</td><td>{{ c.attempt }}</td>
<td>{{ c.deliveries }}</td><td>{{ c.received_at }}</td></tr>
{% else %}<tr><td colspan=8>none yet (is <code>ecard worker</code> running?)</td></tr>
{% endfor %}</table>"""

_USER = _STYLE + """<title>{{ user.username }}</title>
<p><a href="/">← all users</a></p><h1>{{ user.username }}</h1>
<p>e-card {{ user.sign_no or '(none claimed)' }} — {{ user.card_status or '-' }}</p>
{% if user.sign_no %}<form method=post action="/users/{{ user.username }}/identity-code">
<button style="min-width:60px;min-height:60px">Show my identity code (60 s)</button></form>
{% endif %}{% if code %}<h2>Identity code</h2><img alt="identity QR code"
src="data:image/png;base64,{{ code.png_base64 }}"><p>expires {{ code.expires_at }}</p>
{% endif %}{% if pay %}<h2>Payment code</h2><img alt="payment QR code"
src="data:image/png;base64,{{ pay.png }}"><p>{{ pay.code[:6] }}•••••••••••• (refresh for a new
one)</p>{% endif %}"""


def _store() -> Store:
    store: Store = current_app.extensions["sample"]["store"]
    return store


@bp.get("/")
def index() -> str:
    settings = current_app.extensions["sample"]["settings"]
    return render_template_string(_INDEX, channel=settings.channel_no,
                                  platform=settings.ecard_url, users=_store().users(),
                                  callbacks=_store().callbacks())


@bp.get("/users/<username>")
def user_page(username: str) -> tuple[str, int] | str:
    return _render_user(username, code=None)


@bp.post("/users/<username>/identity-code")
def user_identity_code(username: str) -> tuple[str, int] | str:
    user = _store().user(username)
    code = None
    if user is not None and user.sign_no:
        code = current_app.extensions["sample"]["client"].identity_codes.create(user.sign_no)
    return _render_user(username, code=code)


def _render_user(username: str, code: object) -> tuple[str, int] | str:
    from samples.channel_server.api import qr_png_base64
    user = _store().user(username)
    if user is None:
        return "no such user", 404
    pay = None
    if user.device_secret and user.device_slot is not None:
        text = PaymentCodeGenerator(user.device_secret, user.device_slot).now()
        pay = {"code": text, "png": qr_png_base64(text)}
    return render_template_string(_USER, user=user, code=code, pay=pay)
