"""The sandbox's Mastodon fake and admin API, over real loopback HTTP."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from channels.html_text import html_to_text
from channels.sandbox.images import make_png
from channels.sandbox.mastodon import MastodonFake, account_id_for
from channels.sandbox.server import SandboxServer
from tests.channels.helpers import SandboxAdmin

AUTH = {"Authorization": "Bearer sandbox-token"}
BOT = "villajun"

_admin = SandboxAdmin("mastodon")
post, sent = _admin.post, _admin.sent


@pytest.fixture
def fake(sandbox) -> MastodonFake:
    fake = sandbox.fakes["mastodon"]
    fake.heartbeat = 0.2
    return fake


def api(client: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response:
    return client.request(method, path, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)


def ok(response: httpx.Response):
    assert response.status_code == 200, response.text
    return response.json()


def notifications(client: httpx.Client, **params) -> httpx.Response:
    return api(client, "GET", "/api/v1/notifications", params=params)


def links(response: httpx.Response) -> dict[str, dict[str, list[str]]]:
    """rel -> parsed query of a Link header."""
    found = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", "")):
        found[rel] = parse_qs(urlsplit(url).query)
    return found


def statuses_of(page: list[dict]) -> list[str]:
    return [n["status"]["id"] for n in page]


def toot(client: httpx.Client, headers: dict | None = None, **form) -> httpx.Response:
    return api(client, "POST", "/api/v1/statuses", data=form, headers=headers or {})


# -- instance and account ----------------------------------------------------------


def test_instance_v1_with_and_without_slash(client, sandbox):
    host = urlsplit(sandbox.url).netloc
    for path in ("/api/v1/instance", "/api/v1/instance/"):
        instance = ok(client.get(path))  # no token needed
        assert instance["configuration"]["statuses"]["max_characters"] == 500
        assert instance["configuration"]["statuses"]["characters_reserved_per_url"] == 23
        assert instance["urls"]["streaming_api"] == f"ws://{host}"
        assert instance["uri"] == host and instance["version"].startswith("4.")
        assert instance["contact_account"]["acct"] == BOT
    missing = client.get("/api/v2/instance/")
    assert missing.status_code == 404 and missing.json() == {"error": "Record not found"}


def test_max_characters_is_configurable():
    with SandboxServer(fakes=[MastodonFake(max_characters=120)]) as server:
        instance = httpx.get(f"{server.url}/api/v1/instance").json()
        assert instance["configuration"]["statuses"]["max_characters"] == 120
        too_long = httpx.post(f"{server.url}/api/v1/statuses", headers=AUTH,
                              data={"status": "x" * 121})
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 120 exceeded"}


def test_verify_credentials_and_auth(client):
    me = ok(api(client, "GET", "/api/v1/accounts/verify_credentials"))
    assert me["acct"] == me["username"] == BOT and me["bot"] is True
    assert me["id"] == account_id_for(BOT) and me["source"]["privacy"] == "public"
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        denied = client.get("/api/v1/accounts/verify_credentials", headers=headers)
        assert denied.status_code == 401
        assert denied.json() == {"error": "The access token is invalid"}
    assert api(client, "GET", "/api/v1/nothing/here").status_code == 404


# -- inbound kinds ------------------------------------------------------------------


def test_mention_is_a_public_status_and_a_notification(client, sandbox):
    status_id = post(client, user="ana", text="Hay un bache", lang="es")
    (note,) = ok(notifications(client))
    assert note["type"] == "mention" and note["account"]["acct"] == "ana"
    assert int(note["id"]) > int(status_id)
    status = note["status"]
    assert status["id"] == status_id and status["visibility"] == "public"
    assert status["language"] == "es" and status["in_reply_to_id"] is None
    assert status["account"]["id"] == account_id_for("ana") == account_id_for("ANA")
    assert status["mentions"] == [{"id": account_id_for(BOT), "username": BOT,
                                   "url": f"{sandbox.url}/@{BOT}", "acct": BOT}]
    assert status["content"] == (
        f'<p><span class="h-card" translate="no"><a href="{sandbox.url}/@{BOT}" '
        f'class="u-url mention">@<span>{BOT}</span></a></span> Hay un bache</p>')
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", status["created_at"])
    assert {"uri", "url", "reblog", "media_attachments", "tags", "emojis", "application",
            "spoiler_text", "sensitive", "card", "poll"} <= set(status)


def test_dm_is_direct_and_mentions_the_bot(client):
    status_id = post(client, user="luc", text="Lampadaire éteint", kind="dm", lang="fr")
    (note,) = ok(notifications(client, **{"types[]": "mention"}))
    assert note["status"]["id"] == status_id and note["status"]["visibility"] == "direct"
    assert html_to_text(note["status"]["content"]) == f"@{BOT} Lampadaire éteint"
    assert client.get("/_sandbox/mastodon/inbound").json()[0]["kind"] == "dm"


def test_public_post_is_only_in_the_tag_timeline(client):
    status_id = post(client, user="bob", text="Otra vez sin luz #VillaJÚN", kind="public")
    tagless = post(client, user="eva", text="Contenedor lleno", kind="public")
    assert ok(notifications(client)) == []
    (found,) = ok(api(client, "GET", "/api/v1/timelines/tag/villajun"))
    assert found["id"] == status_id and found["mentions"] == []
    assert found["tags"] == [{"name": "villajun", "url": found["tags"][0]["url"]}]
    # Without a hashtag of its own the sandbox adds the default one.
    (default,) = ok(api(client, "GET", "/api/v1/timelines/tag/JunIncidencias"))
    assert default["id"] == tagless
    assert html_to_text(default["content"]) == "Contenedor lleno #JunIncidencias"
    # Accents and case do not matter, percent-encoded or not.
    assert len(ok(api(client, "GET", "/api/v1/timelines/tag/Villaj%C3%BAn"))) == 1


def test_mentions_and_dms_stay_out_of_tag_timelines_unless_public(client):
    post(client, user="ana", text="bache #JunIncidencias")  # a public mention with the tag
    post(client, user="ana", text="privado #JunIncidencias", kind="dm")
    tagged = ok(api(client, "GET", "/api/v1/timelines/tag/junincidencias"))
    assert [html_to_text(s["content"]) for s in tagged] == [f"@{BOT} bache #JunIncidencias"]


def test_content_is_escaped_html_with_paragraphs_links_and_hashtags(client, sandbox):
    text = ('Tres <b>baches</b> & "farolas" rotas\nen https://maps.example.com/place/calle-mayor-12'
            '\n\nGracias @bob@other.example #JunIncidencias')
    status_id = post(client, user="ana", text=text)
    status = ok(api(client, "GET", f"/api/v1/statuses/{status_id}"))
    content = status["content"]
    assert content.startswith("<p>") and content.count("<p>") == 2 and "<br />" in content
    assert "&lt;b&gt;baches&lt;/b&gt; &amp; &quot;farolas&quot;" in content
    assert '<span class="invisible">https://</span>' in content
    assert f'<a href="{sandbox.url}/tags/junincidencias" class="mention hashtag" rel="tag">' \
           "#<span>JunIncidencias</span></a>" in content
    assert '<a href="https://other.example/@bob" class="u-url mention">' in content
    assert html_to_text(content) == f"@{BOT} " + text.replace("@bob@other.example", "@bob")
    assert [m["acct"] for m in status["mentions"]] == [BOT, "bob@other.example"]


def test_location_is_a_pin_line_and_photo_a_real_png(client):
    status_id = post(client, user="ana", text="Farola rota", lat=37.2, lon=-3.61, photo=True)
    status = ok(api(client, "GET", f"/api/v1/statuses/{status_id}"))
    assert html_to_text(status["content"]) == f"@{BOT} Farola rota\n📍 37.2,-3.61"
    (media,) = status["media_attachments"]
    assert media["type"] == "image" and media["meta"]["original"]["width"] == 320
    download = client.get(urlsplit(media["url"]).path)
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert download.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert ok(api(client, "GET", f"/api/v1/media/{media['id']}"))["url"] == media["url"]
    listed = client.get("/_sandbox/mastodon/inbound").json()[0]
    assert (listed["lat"], listed["lon"], listed["photo"]) == (37.2, -3.61, True)
    assert listed["text"] == "Farola rota"


def test_location_only_post(client):
    status_id = post(client, user="ana", text="", lat=1.5, lon=2.5)
    status = ok(api(client, "GET", f"/api/v1/statuses/{status_id}"))
    assert html_to_text(status["content"]) == f"@{BOT}\n📍 1.5,2.5"


def test_reply_to_threads_and_prefills_mentions_as_the_composer_does(client):
    root = post(client, user="bob", text="Bache enorme", kind="public")
    reply = post(client, user="ana", text="Yo también lo vi", reply_to=root)
    status = ok(api(client, "GET", f"/api/v1/statuses/{reply}"))
    assert status["in_reply_to_id"] == root
    assert status["in_reply_to_account_id"] == account_id_for("bob")
    assert html_to_text(status["content"]) == f"@{BOT} @bob Yo también lo vi"
    context = ok(api(client, "GET", f"/api/v1/statuses/{reply}/context"))
    assert [s["id"] for s in context["ancestors"]] == [root] and context["descendants"] == []
    assert [s["id"] for s in ok(api(client, "GET", f"/api/v1/statuses/{root}/context"))
            ["descendants"]] == [reply]
    listed = client.get("/_sandbox/mastodon/inbound").json()
    assert listed[-1]["reply_to"] == root


def test_reply_to_a_direct_status_stays_direct(client):
    dm = post(client, user="luc", text="salut", kind="dm")
    reply = post(client, user="luc", text="des nouvelles ?", reply_to=dm)
    status = ok(api(client, "GET", f"/api/v1/statuses/{reply}"))
    assert status["visibility"] == "direct"
    assert client.get("/_sandbox/mastodon/inbound").json()[-1]["kind"] == "dm"


def test_remote_citizen(client):
    status_id = post(client, user="ana@other.example", text="hola")
    (note,) = ok(notifications(client))
    account = note["status"]["account"]
    assert note["status"]["id"] == status_id
    assert (account["acct"], account["username"]) == ("ana@other.example", "ana")
    assert account["url"] == "https://other.example/@ana"
    assert note["status"]["url"].startswith("https://other.example/@ana/")


# -- paging ---------------------------------------------------------------------------


def test_notifications_are_newest_first_with_link_headers(client, sandbox):
    ids = [post(client, user="ana", text=f"n{i}") for i in range(7)]
    first = notifications(client, limit=3, **{"types[]": "mention"})
    page = ok(first)
    assert statuses_of(page) == ids[6:3:-1]
    rels = links(first)
    assert rels["next"]["max_id"] == [page[-1]["id"]] and rels["prev"]["min_id"] == [page[0]["id"]]
    assert rels["next"]["limit"] == ["3"] and rels["next"]["types[]"] == ["mention"]
    assert first.headers["link"].startswith(f"<{sandbox.url}/api/v1/notifications?")
    older = ok(notifications(client, limit=3, max_id=page[-1]["id"]))
    assert statuses_of(older) == ids[3:0:-1]
    oldest = ok(notifications(client, limit=3, max_id=older[-1]["id"]))
    assert statuses_of(oldest) == ids[:1]
    empty = notifications(client, max_id=oldest[-1]["id"])
    assert ok(empty) == [] and "link" not in empty.headers


def test_min_id_returns_the_page_right_after_it_and_since_id_the_newest(client):
    ids = [post(client, user="ana", text=f"n{i}") for i in range(7)]
    note_ids = [n["id"] for n in reversed(ok(notifications(client)))]  # oldest first
    after = ok(notifications(client, min_id=note_ids[1], limit=2))
    assert statuses_of(after) == [ids[3], ids[2]]  # right after n1, still newest first
    newest = ok(notifications(client, since_id=note_ids[1], limit=2))
    assert statuses_of(newest) == [ids[6], ids[5]]
    assert statuses_of(ok(notifications(client, min_id="0", limit=1))) == [ids[0]]
    between = ok(notifications(client, min_id=note_ids[1], max_id=note_ids[4]))
    assert statuses_of(between) == [ids[3], ids[2]]
    assert ok(notifications(client, min_id=note_ids[-1])) == []
    # Walking forward with the prev link reaches everything once.
    seen, cursor = [], "0"
    while True:
        response = notifications(client, min_id=cursor, limit=3)
        page = ok(response)
        if not page:
            break
        seen += reversed(statuses_of(page))
        cursor = links(response)["prev"]["min_id"][0]
    assert seen == ids


def test_limits_and_type_filters(client):
    for i in range(85):
        post(client, user=f"u{i}", text="hola")
    assert len(ok(notifications(client))) == 40
    assert len(ok(notifications(client, limit=500))) == 80
    assert len(ok(notifications(client, limit=0))) == 40
    assert ok(notifications(client, **{"types[]": "follow"})) == []
    assert ok(notifications(client, **{"exclude_types[]": "mention"})) == []
    bad = notifications(client, min_id="abc")
    assert bad.status_code == 400 and "min_id" in bad.json()["error"]


def test_tag_timeline_paging(client):
    ids = [post(client, user="bob", text=f"p{i} #JunIncidencias", kind="public") for i in range(5)]
    first = api(client, "GET", "/api/v1/timelines/tag/JunIncidencias", params={"limit": 2})
    assert [s["id"] for s in ok(first)] == [ids[4], ids[3]]
    rels = links(first)
    assert rels["next"]["max_id"] == [ids[3]] and rels["prev"]["min_id"] == [ids[4]]
    after = api(client, "GET", "/api/v1/timelines/tag/JunIncidencias",
                params={"min_id": ids[0], "limit": 2})
    assert [s["id"] for s in ok(after)] == [ids[2], ids[1]]
    assert ok(api(client, "GET", "/api/v1/timelines/tag/otra")) == []


# -- posting ---------------------------------------------------------------------------


def test_post_a_threaded_reply(client):
    citizen = post(client, user="ana", text="bache")
    status = ok(toot(client, status="@ana Gracias, JUN-1", in_reply_to_id=citizen,
                     visibility="unlisted", language="es"))
    assert status["in_reply_to_id"] == citizen and status["visibility"] == "unlisted"
    assert status["account"]["acct"] == BOT and status["application"]["name"] == "citybot"
    assert html_to_text(status["content"]) == "@ana Gracias, JUN-1"
    assert [m["acct"] for m in status["mentions"]] == ["ana"]
    (record,) = sent(client)
    assert record == {"id": status["id"], "text": "@ana Gracias, JUN-1", "in_reply_to": citizen,
                      "to_user": "ana", "media": [], "at": record["at"], "visibility": "unlisted"}
    assert datetime.fromisoformat(record["at"]).tzinfo is not None
    assert ok(notifications(client))[0]["status"]["id"] == citizen  # the bot is not notified


def test_idempotency_key_returns_the_same_status(client):
    citizen = post(client, user="ana", text="bache")
    key = {"Idempotency-Key": "citybot-outbox-7:1"}
    first = ok(toot(client, key, status="@ana Gracias", in_reply_to_id=citizen))
    again = ok(toot(client, key, status="@ana Gracias", in_reply_to_id=citizen))
    assert again["id"] == first["id"] and len(sent(client)) == 1
    other = ok(toot(client, {"Idempotency-Key": "citybot-outbox-7:2"}, status="@ana Otra"))
    assert other["id"] != first["id"] and len(sent(client)) == 2
    assert ok(toot(client, status="@ana Sin clave"))["id"] != other["id"]


def test_idempotency_window_expires():
    fake = MastodonFake(idempotency_seconds=0.2)
    with SandboxServer(fakes=[fake]) as server:
        def once() -> str:
            return httpx.post(f"{server.url}/api/v1/statuses", data={"status": "hola"},
                              headers={**AUTH, "Idempotency-Key": "k"}).json()["id"]
        first = once()
        assert once() == first
        time.sleep(0.3)
        assert once() != first


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"status": ""}, 422, "Validation failed: Text can't be blank"),
        ({"status": "x" * 501}, 422, "Validation failed: Text character limit of 500 exceeded"),
        ({"status": "x", "visibility": "secret"}, 422, "Visibility"),
        ({"status": "x", "in_reply_to_id": "12345"}, 404, "Record not found"),
        ({"status": "x", "media_ids[]": "999"}, 422, "Media attachments are invalid"),
    ],
)
def test_post_errors_look_like_mastodon(client, form, status, error):
    response = toot(client, **form)
    assert response.status_code == status
    assert error in response.json()["error"] and sent(client) == []


def test_urls_count_23_and_remote_mentions_their_username():
    url = "https://example.com/" + "a" * 200
    with SandboxServer(fakes=[MastodonFake(max_characters=60)]) as server:
        answer = httpx.post(f"{server.url}/api/v1/statuses", headers=AUTH,
                            data={"status": f"@ana@a-very-long-domain-name.example {url} ok"})
    assert answer.status_code == 200, answer.text


def test_media_upload_and_attach(client):
    png = make_png(24, 12)
    uploaded = api(client, "POST", "/api/v2/media", files={"file": ("fixed.png", png, "image/png")},
                   data={"description": "arreglado"})
    media = ok(uploaded)
    assert media["type"] == "image" and media["description"] == "arreglado"
    assert media["meta"]["original"]["width"] == 24
    assert client.get(urlsplit(media["url"]).path).content == png
    v1 = ok(api(client, "POST", "/api/v1/media", files={"file": ("a.png", png, "image/png")}))
    status = ok(api(client, "POST", "/api/v1/statuses",
                    data={"status": "Arreglado", "media_ids[]": [media["id"], v1["id"]]}))
    assert [m["id"] for m in status["media_attachments"]] == [media["id"], v1["id"]]
    assert sent(client)[0]["media"] == ["photo", "photo"]
    empty = api(client, "POST", "/api/v2/media", files={"file": ("a.png", b"", "image/png")})
    assert empty.status_code == 422


def test_json_status_body(client):
    status = ok(api(client, "POST", "/api/v1/statuses",
                    json={"status": "hola", "visibility": "private"}))
    assert status["visibility"] == "private"


# -- streaming ---------------------------------------------------------------------------


def read_until(lines, stop, limit: float = 5.0) -> list[str]:
    """SSE lines from the `lines` iterator until `stop(seen)` holds (or it ends, or `limit` s)."""
    seen: list[str] = []
    deadline = time.monotonic() + limit
    for line in lines:
        seen.append(line)
        if stop(seen) or time.monotonic() > deadline:
            break
    return seen


def wait_for_connections(client: httpx.Client, count: int) -> None:
    deadline = time.monotonic() + 5
    while client.get("/_sandbox/mastodon/stream").json()["connections"] != count:
        assert time.monotonic() < deadline, "stream connections did not settle"
        time.sleep(0.05)


def test_stream_pushes_new_mentions_with_heartbeats(client, sandbox, fake):
    old = post(client, user="ana", text="antes")  # not replayed on connect
    assert client.get("/api/v1/streaming/health").text == "OK"
    with httpx.Client(base_url=sandbox.url, timeout=10) as streaming:
        with streaming.stream("GET", "/api/v1/streaming/user", headers=AUTH) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines) == ":)"
            threading.Timer(0.3, lambda: post(client, user="luc", text="ya", kind="dm")).start()
            got = read_until(lines, lambda seen: seen[-1].startswith("data: "))
    assert ":thump" in got  # a heartbeat came first (every 0.2 s here)
    assert got[-2] == "event: notification"
    data = json.loads(got[-1][len("data: "):])
    assert data["type"] == "mention" and data["status"]["visibility"] == "direct"
    assert data["status"]["id"] != old
    wait_for_connections(client, 0)


def test_stream_needs_a_token_and_a_known_stream(client, fake):
    assert client.get("/api/v1/streaming/user").status_code == 401
    assert client.get("/api/v1/streaming/public", headers=AUTH).status_code == 404


def test_cutting_streams_ends_them_and_refuses_new_ones(client, sandbox, fake):
    with httpx.Client(base_url=sandbox.url, timeout=10) as streaming:
        with streaming.stream("GET", "/api/v1/streaming?stream=user", headers=AUTH) as response:
            lines = response.iter_lines()
            assert next(lines) == ":)"
            wait_for_connections(client, 1)
            state = client.post("/_sandbox/mastodon/stream", json={"up": False}).json()
            assert state == {"up": False, "connections": state["connections"]}
            assert set(lines) <= {":thump", ""}  # the stream ends instead of hanging
    assert client.get("/api/v1/streaming/user", headers=AUTH).status_code == 503
    client.post("/_sandbox/mastodon/stream", json={"up": True})
    with httpx.Client(base_url=sandbox.url, timeout=10) as streaming:
        with streaming.stream("GET", "/api/v1/streaming/user", headers=AUTH) as response:
            lines = response.iter_lines()
            assert response.status_code == 200 and next(lines) == ":)"
            client.post("/_sandbox/reset")  # a reset ends open streams too
            assert set(lines) <= {":thump", ""}


# -- faults ---------------------------------------------------------------------------


def test_429_fault_has_mastodon_rate_limit_headers(client):
    assert client.post("/_sandbox/mastodon/faults",
                       json={"status": 429, "count": 2, "retry_after": 30}).status_code == 200
    post(client, user="ana", text="admin calls are not affected")
    first = notifications(client)
    assert first.status_code == 429 and first.json() == {"error": "Too many requests"}
    assert first.headers["x-ratelimit-limit"] == "300"
    assert first.headers["x-ratelimit-remaining"] == "0"
    reset = datetime.fromisoformat(first.headers["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert 25 < (reset - datetime.now(UTC)).total_seconds() <= 31
    assert toot(client, status="x").status_code == 429
    answer = notifications(client)
    assert answer.status_code == 200 and int(answer.headers["x-ratelimit-remaining"]) < 300


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_faults(client, status):
    client.post("/_sandbox/mastodon/faults", json={"status": status, "count": 1})
    response = api(client, "GET", "/api/v1/accounts/verify_credentials")
    assert response.status_code == status and isinstance(response.json()["error"], str)
    assert api(client, "GET", "/api/v1/accounts/verify_credentials").status_code == 200


def test_faults_spare_media_files_and_streams(client, sandbox, fake):
    status_id = post(client, user="ana", text="foto", photo=True)
    status = ok(api(client, "GET", f"/api/v1/statuses/{status_id}"))
    client.post("/_sandbox/mastodon/faults", json={"status": 500, "count": 1})
    assert client.get(urlsplit(status["media_attachments"][0]["url"]).path).status_code == 200
    with httpx.Client(base_url=sandbox.url, timeout=10) as streaming:
        with streaming.stream("GET", "/api/v1/streaming/user", headers=AUTH) as response:
            assert response.status_code == 200
    assert client.get("/api/v1/instance").status_code == 500  # the fault is still there


def test_drop_response_posts_then_hangs_up(client):
    citizen = post(client, user="ana", text="bache")
    client.post("/_sandbox/mastodon/faults", json={"status": "drop_response", "count": 1})
    assert ok(notifications(client))  # other calls are unaffected
    key = {"Idempotency-Key": "citybot-outbox-1:1"}
    with pytest.raises(httpx.TransportError):
        toot(client, key, status="@ana Gracias", in_reply_to_id=citizen)
    (record,) = sent(client)  # it was posted all the same
    retried = ok(toot(client, key, status="@ana Gracias", in_reply_to_id=citizen))
    assert retried["id"] == record["id"] and len(sent(client)) == 1


def test_reset_clears_everything_and_ids_only_grow(client):
    first = int(post(client, user="ana", text="a"))
    toot(client, status="b")
    client.post("/_sandbox/mastodon/faults", json={"status": 500, "count": 5})
    assert client.post("/_sandbox/reset").json() == {"ok": True}
    assert client.get("/_sandbox/mastodon/inbound").json() == []
    assert sent(client) == [] and ok(notifications(client)) == []  # the fault is gone too
    assert int(post(client, user="ana", text="c")) > first
    with SandboxServer() as restarted:
        again = httpx.post(f"{restarted.url}/_sandbox/mastodon/inbound",
                           json={"user": "ana", "text": "d"}).json()["id"]
    assert int(again) > first


def test_status_ids_are_snowflakes_of_their_time(client):
    status_id = int(post(client, user="ana", text="a"))
    assert abs((status_id >> 16) / 1000 - time.time()) < 60


def test_raw_notification_is_served_as_is(client):
    raw = client.post("/_sandbox/mastodon/raw", json={"type": "mention", "oops": True}).json()
    (note,) = ok(notifications(client))
    assert note == {"type": "mention", "oops": True, "id": raw["id"]}


def test_inbound_listing(client):
    first = post(client, user="ana", text="uno", lat=1.5, lon=2.5)
    post(client, user="bob", text="dos #JunIncidencias", kind="public", photo=True,
         reply_to=first)
    listed = client.get("/_sandbox/mastodon/inbound").json()
    assert [p["text"] for p in listed] == ["uno", "dos #JunIncidencias"]
    assert set(listed[0]) == {"id", "user", "text", "kind", "reply_to", "lat", "lon",
                              "photo", "at"}
    assert listed[1]["reply_to"] == first and listed[1]["kind"] == "public"


# -- bad admin input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("inbound", {"text": "b"}, 400, "'user'"),
        ("inbound", {"user": "a"}, 400, "'text'"),
        ("inbound", {"user": "a", "text": ""}, 400, "'text' is empty"),
        ("inbound", {"user": "a", "text": "b", "kind": "x"}, 400, "'kind'"),
        ("inbound", {"user": "a", "text": "b", "lat": 1}, 400, "'lon'"),
        ("inbound", {"user": "a", "text": "b", "lat": 99, "lon": 0}, 400, "'lat'"),
        ("inbound", {"user": "a", "text": "b", "photo": "yes"}, 400, "'photo'"),
        ("inbound", {"user": "a", "text": "b", "reply_to": "999"}, 404, "reply_to"),
        ("inbound", {"user": "villajun", "text": "b"}, 400, "bot"),
        ("inbound", [1], 400, "JSON object"),
        ("faults", {"status": 404, "count": 1}, 400, "drop_response"),
        ("faults", {"status": 500, "count": -1}, 400, "'count'"),
        ("faults", {"status": "drop_response", "count": "2"}, 400, "'count'"),
        ("faults", {"status": 429, "retry_after": 0}, 400, "'retry_after'"),
        ("stream", {"up": "no"}, 400, "up"),
        ("raw", [1], 400, "JSON object"),
        ("frobnicate", {}, 404, "frobnicate"),
    ],
)
def test_bad_admin_input_is_named(client, path, body, status, needle):
    response = client.post(f"/_sandbox/mastodon/{path}", json=body)
    assert response.status_code == status
    assert needle in response.json()["error"]


def test_admin_methods(client):
    assert client.delete("/_sandbox/mastodon/faults").status_code == 405
    bad = client.post("/_sandbox/mastodon/inbound", content=b"{nope",
                      headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    platforms = {p["name"]: p["available"] for p in client.get("/_sandbox/platforms").json()}
    assert platforms["mastodon"] is True
