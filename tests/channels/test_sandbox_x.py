"""The sandbox's X fake and admin API, over real loopback HTTP (plain httpx, no tweepy)."""

from __future__ import annotations

import time

import httpx
import pytest

from channels.sandbox.x import BOT_USERNAME, XFake, dm_conversation_id, snowflake, user_id_for
from tests.channels.helpers import SandboxAdmin

BOT_ID = user_id_for(BOT_USERNAME)
BEARER = {"Authorization": "Bearer app-token"}
OAUTH = {"Authorization": 'OAuth oauth_consumer_key="ck", oauth_nonce="n", '
                          'oauth_signature="sig", oauth_token="1-at"'}
TWEET_FIELDS = "author_id,conversation_id,created_at,in_reply_to_user_id,referenced_tweets,geo,attachments,lang"

_admin = SandboxAdmin("x")
post = _admin.post


def api(client: httpx.Client, path: str, headers=BEARER, status: int = 200, **params) -> dict:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def mentions(client: httpx.Client, **params) -> dict:
    params.setdefault("tweet.fields", TWEET_FIELDS)
    params.setdefault("expansions", "author_id,attachments.media_keys,geo.place_id")
    return api(client, f"/2/users/{BOT_ID}/mentions", **params)


def search(client: httpx.Client, query: str, **params) -> dict:
    params.setdefault("tweet.fields", TWEET_FIELDS)
    return api(client, "/2/tweets/search/recent", query=query, **params)


def tweet(client: httpx.Client, headers=OAUTH, **body) -> httpx.Response:
    return client.post("/2/tweets", json=body, headers=headers)


def sent(client: httpx.Client) -> list[dict]:
    return client.get("/_sandbox/x/sent").json()


# -- users, auth ----------------------------------------------------------------


def test_users_me_needs_user_context(client):
    assert api(client, "/2/users/me", headers=OAUTH) == {
        "data": {"id": BOT_ID, "name": "Ayuntamiento de Villajún", "username": "AytoVillajun"}}
    refused = api(client, "/2/users/me", headers=BEARER, status=403)
    assert refused["title"] == "Unsupported Authentication" and refused["status"] == 403
    missing = api(client, "/2/users/me", headers={}, status=401)
    assert missing["title"] == "Unauthorized"
    assert client.get("/2/users/me", headers={"Authorization": "OAuth nothing"}).status_code == 401


def test_user_by_username_and_fields(client):
    post(client, user="ana", text="hola")
    data = api(client, "/2/users/by/username/ana", **{"user.fields": "created_at"})["data"]
    assert data["id"] == user_id_for("ana") and data["username"] == "ana"
    assert "created_at" in data and "verified" not in data
    assert "errors" in api(client, "/2/users/by/username/nobody")


def test_ids_are_time_based_snowflakes_and_users_are_stable(client):
    before = snowflake()
    first, second = post(client, user="ana", text="uno"), post(client, user="ana", text="dos")
    assert before <= int(first) < int(second) <= snowflake() + 10
    assert user_id_for("Ana") == user_id_for("ana") != user_id_for("bob")
    assert dm_conversation_id("20", "3") == "3-20"
    assert int(XFake()._new_id()) > 0  # a fresh fake starts from the clock, not from 1


def test_unknown_path_is_x_404(client):
    response = client.get("/2/nothing", headers=BEARER)
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == 34


# -- mentions ---------------------------------------------------------------------


def test_mention_shape(client):
    ident = post(client, user="ana", text="Bache en la calle Mayor & otra", lang="es")
    body = mentions(client)
    (item,) = body["data"]
    assert item == {
        "id": ident, "text": "@AytoVillajun Bache en la calle Mayor &amp; otra",
        "author_id": user_id_for("ana"), "conversation_id": ident, "lang": "es",
        "created_at": item["created_at"], "edit_history_tweet_ids": [ident]}
    assert item["created_at"].endswith("Z") and "T" in item["created_at"]
    assert body["includes"] == {"users": [{"id": user_id_for("ana"), "name": "Ana",
                                           "username": "ana"}]}
    assert body["meta"] == {"result_count": 1, "newest_id": ident, "oldest_id": ident}


def test_fields_are_only_there_when_asked(client):
    post(client, user="ana", text="hola")
    (item,) = api(client, f"/2/users/{BOT_ID}/mentions")["data"]
    assert set(item) == {"id", "text", "edit_history_tweet_ids"}
    assert "includes" not in api(client, f"/2/users/{BOT_ID}/mentions")


def test_empty_result(client):
    assert mentions(client) == {"meta": {"result_count": 0}}


def test_newest_first_since_id_exclusive_and_paging(client):
    ids = [post(client, user=f"user{n}", text=f"aviso {n}") for n in range(12)]
    first = mentions(client, max_results=5)
    assert [t["id"] for t in first["data"]] == ids[::-1][:5]
    token = first["meta"]["next_token"]
    second = mentions(client, max_results=5, pagination_token=token)
    third = mentions(client, max_results=5, pagination_token=second["meta"]["next_token"])
    assert [t["id"] for t in second["data"] + third["data"]] == ids[::-1][5:]
    assert "next_token" not in third["meta"] and third["meta"]["result_count"] == 2
    since = mentions(client, since_id=ids[9])
    assert [t["id"] for t in since["data"]] == [ids[11], ids[10]]
    assert mentions(client, until_id=ids[1])["data"][0]["id"] == ids[0]


def test_new_posts_during_paging_do_not_shift_pages(client):
    ids = [post(client, user="ana", text=f"aviso {n}") for n in range(6)]
    first = mentions(client, max_results=5)
    post(client, user="ana", text="nuevo")
    rest = mentions(client, max_results=5, pagination_token=first["meta"]["next_token"])
    assert [t["id"] for t in rest["data"]] == [ids[0]]


@pytest.mark.parametrize("params", [{"max_results": 4}, {"max_results": 101},
                                    {"pagination_token": "zz"}, {"since_id": "abc"}])
def test_bad_parameters_are_400(client, params):
    body = api(client, f"/2/users/{BOT_ID}/mentions", status=400, **params)
    assert body["title"] == "Invalid Request" and body["errors"][0]["parameters"]


def test_only_mentions_of_the_bot(client):
    post(client, user="bob", text="Farola rota #JunIncidencias", kind="public")
    post(client, user="ana", text="hola @aytovillajun", kind="public")
    (item,) = mentions(client)["data"]
    assert item["text"] == "hola @aytovillajun"


def test_geo_photo_and_reply(client, sandbox):
    root = post(client, user="ana", text="Farola apagada", lat=37.2, lon=-3.61, photo=True)
    reply = post(client, user="bob", text="aquí también", reply_to=root)
    body = mentions(client, **{"media.fields": "url,width,height", "place.fields": "full_name"})
    by_id = {t["id"]: t for t in body["data"]}
    assert by_id[root]["geo"]["coordinates"] == {"type": "Point", "coordinates": [-3.61, 37.2]}
    key = by_id[root]["attachments"]["media_keys"][0]
    (media,) = body["includes"]["media"]
    assert media["media_key"] == key == f"3_{root}" and media["type"] == "photo"
    assert media["url"] == f"{sandbox.url}/x-media/{key}.png"
    png = client.get(media["url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert body["includes"]["places"][0]["full_name"] == "Villajún, España"
    answer = by_id[reply]
    assert answer["text"] == "@ana @AytoVillajun aquí también"
    assert answer["conversation_id"] == root and answer["in_reply_to_user_id"] == user_id_for("ana")
    assert answer["referenced_tweets"] == [{"type": "replied_to", "id": root}]


def test_long_post_is_truncated_with_a_note_tweet(client):
    text = "Llevamos semanas sin luz en la calle. " * 10
    post(client, user="ana", text=text)
    (item,) = mentions(client, **{"tweet.fields": "note_tweet"})["data"]
    assert item["text"].endswith("…") and item["note_tweet"]["text"] == f"@AytoVillajun {text.strip()}"


# -- search -----------------------------------------------------------------------


def test_search_query_evaluator(client):
    a = post(client, user="bob", text="Contenedor desbordado #JunIncidencias", kind="public")
    b = post(client, user="eva", text="El Ayuntamiento no arregla la farola", kind="public")
    post(client, user="eva", text="Farola rota", kind="public")
    post(client, user="AytoVillajun", text="Recordatorio #JunIncidencias", kind="public")
    query = '(#junincidencias OR ("ayuntamiento" farola)) -is:retweet -from:AytoVillajun'
    body = search(client, query, expansions="author_id")
    assert [t["id"] for t in body["data"]] == [b, a]
    assert {u["username"] for u in body["includes"]["users"]} == {"bob", "eva"}
    assert search(client, "farola -from:eva") == {"meta": {"result_count": 0}}
    assert len(search(client, "farola OR contenedor")["data"]) == 3


def test_search_paging_and_since_id(client):
    ids = [post(client, user="bob", text=f"#JunIncidencias aviso {n}", kind="public")
           for n in range(15)]
    first = search(client, "#JunIncidencias")
    assert len(first["data"]) == 10 and first["meta"]["next_token"]
    rest = search(client, "#JunIncidencias", next_token=first["meta"]["next_token"])
    assert [t["id"] for t in first["data"] + rest["data"]] == ids[::-1]
    assert [t["id"] for t in search(client, "#JunIncidencias", since_id=ids[13])["data"]] == [ids[14]]
    api(client, "/2/tweets/search/recent", status=400, query="#a", max_results=5)
    stale = snowflake(int((time.time() - 8 * 24 * 3600) * 1000))
    body = api(client, "/2/tweets/search/recent", status=400, query="#a", since_id=stale)
    assert "7 days" in body["errors"][0]["message"]


@pytest.mark.parametrize("query", ["", "-farola", "(farola", "farola)", "foo:bar", "a OR"])
def test_bad_queries_are_400(client, query):
    body = api(client, "/2/tweets/search/recent", status=400, query=query)
    assert body["errors"][0]["parameters"]["query"] == [query]


# -- posting ----------------------------------------------------------------------


def test_post_a_reply(client):
    root = post(client, user="ana", text="bache")
    response = tweet(client, text="Gracias, Ana", reply={"in_reply_to_tweet_id": root})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data == {"id": data["id"], "text": "Gracias, Ana", "edit_history_tweet_ids": [data["id"]]}
    assert int(data["id"]) > int(root)
    second = tweet(client, text="Seguimos", reply={"in_reply_to_tweet_id": data["id"]}).json()
    records = sent(client)
    assert [(r["id"], r["in_reply_to"], r["to_user"]) for r in records] == [
        (data["id"], root, "ana"), (second["data"]["id"], data["id"], "ana")]
    assert records[0]["media"] == [] and records[0]["at"].endswith("Z")


def test_posting_needs_oauth1_and_sane_content(client):
    root = post(client, user="ana", text="bache")
    assert tweet(client, headers=BEARER, text="hola").status_code == 403
    assert tweet(client, text="x" * 281).status_code == 403
    assert tweet(client, text="x" * 280).status_code == 201
    assert tweet(client, text="  ").status_code == 400
    assert tweet(client, text="hola", media={"media_ids": ["1"]}).status_code == 400
    gone = tweet(client, text="hola", reply={"in_reply_to_tweet_id": "1"})
    assert gone.status_code == 403 and "deleted or not visible" in gone.json()["detail"]
    assert tweet(client, text="Gracias", reply={"in_reply_to_tweet_id": root}).status_code == 201
    duplicate = tweet(client, text="Gracias", reply={"in_reply_to_tweet_id": root})
    assert duplicate.status_code == 403 and "duplicate" in duplicate.json()["detail"]
    assert len(sent(client)) == 2


def test_a_post_without_reply_has_no_recipient(client):
    tweet(client, text="Resumen semanal: 12 incidencias resueltas")
    (record,) = sent(client)
    assert record["in_reply_to"] is None and record["to_user"] is None


# -- DMs --------------------------------------------------------------------------


def test_dm_events_and_replies(client):
    first = post(client, user="luc", text="Bonjour", kind="dm")
    second = post(client, user="luc", text="fuite d'eau", kind="dm", photo=True)
    conversation = dm_conversation_id(user_id_for("luc"), BOT_ID)
    assert api(client, "/2/dm_events", status=403)["title"] == "Unsupported Authentication"
    body = api(client, "/2/dm_events", headers=OAUTH, event_types="MessageCreate",
               expansions="sender_id,attachments.media_keys", **{
                   "dm_event.fields": "sender_id,dm_conversation_id,created_at,attachments"})
    assert [e["id"] for e in body["data"]] == [second, first]
    assert body["data"][1] == {"id": first, "event_type": "MessageCreate", "text": "Bonjour",
                               "sender_id": user_id_for("luc"), "dm_conversation_id": conversation,
                               "created_at": body["data"][1]["created_at"]}
    assert body["includes"]["users"][0]["username"] == "luc"
    assert body["includes"]["media"][0]["media_key"] == f"3_{second}"
    response = client.post(f"/2/dm_conversations/with/{user_id_for('luc')}/messages",
                           json={"text": "Merci Luc"}, headers=OAUTH)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["dm_conversation_id"] == conversation and int(data["dm_event_id"]) > int(second)
    by_conversation = client.post(f"/2/dm_conversations/{conversation}/messages",
                                  json={"text": "Ticket JUN-3"}, headers=OAUTH)
    assert by_conversation.status_code == 201
    assert [(r["text"], r["in_reply_to"], r["to_user"]) for r in sent(client)] == [
        ("Merci Luc", second, "luc"), ("Ticket JUN-3", second, "luc")]
    events = api(client, f"/2/dm_conversations/with/{user_id_for('luc')}/dm_events",
                 headers=OAUTH)["data"]
    assert [e["text"] for e in events] == ["Ticket JUN-3", "Merci Luc", "fuite d'eau", "Bonjour"]


def test_a_reply_to_a_dm_stays_a_dm(client):
    first = post(client, user="luc", text="Bonjour", kind="dm")
    answer = post(client, user="luc", text="encore moi", reply_to=f"dm:{first}")
    events = api(client, "/2/dm_events", headers=OAUTH)["data"]
    assert [e["id"] for e in events] == [answer, first]
    assert client.get("/_sandbox/x/inbound").json()[1]["kind"] == "dm"
    stranger = client.post("/_sandbox/x/inbound",
                           json={"user": "eva", "text": "hola", "reply_to": first})
    assert stranger.status_code == 400 and "another user" in stranger.json()["error"]


def test_dm_paging_and_errors(client):
    ids = [post(client, user="luc", text=f"m{n}", kind="dm") for n in range(3)]
    first = api(client, "/2/dm_events", headers=OAUTH, max_results=2)
    rest = api(client, "/2/dm_events", headers=OAUTH, max_results=2,
               pagination_token=first["meta"]["next_token"])
    assert [e["id"] for e in first["data"] + rest["data"]] == ids[::-1]
    api(client, "/2/dm_events", headers=OAUTH, status=400, event_types="Nope")
    unknown = client.post("/2/dm_conversations/with/42/messages", json={"text": "hola"},
                          headers=OAUTH)
    assert unknown.status_code == 403
    empty = client.post(f"/2/dm_conversations/with/{user_id_for('luc')}/messages",
                        json={"text": ""}, headers=OAUTH)
    assert empty.status_code == 400


# -- faults and rate-limit headers ---------------------------------------------------


def test_rate_limit_headers_on_normal_answers(client):
    first = client.get(f"/2/users/{BOT_ID}/mentions", headers=BEARER)
    second = client.get(f"/2/users/{BOT_ID}/mentions", headers=BEARER)
    assert first.headers["x-rate-limit-limit"] == "450"
    assert int(first.headers["x-rate-limit-remaining"]) == int(
        second.headers["x-rate-limit-remaining"]) + 1
    assert 0 < int(first.headers["x-rate-limit-reset"]) - time.time() <= 15 * 60 + 1


def test_429_fault_has_x_headers_and_body(client):
    assert client.post("/_sandbox/x/faults",
                       json={"status": 429, "count": 2, "retry_after": 30}).status_code == 200
    for _ in range(2):
        response = client.get(f"/2/users/{BOT_ID}/mentions", headers=BEARER)
        assert response.status_code == 429
        assert response.json() == {"title": "Too Many Requests", "detail": "Too Many Requests",
                                   "type": "about:blank", "status": 429}
        assert response.headers["x-rate-limit-remaining"] == "0"
        assert response.headers["x-rate-limit-limit"] == "450"
        assert 29 <= int(response.headers["x-rate-limit-reset"]) - time.time() <= 31
    assert client.get(f"/2/users/{BOT_ID}/mentions", headers=BEARER).status_code == 200


@pytest.mark.parametrize(("status", "code"), [(500, 131), (503, 130)])
def test_server_error_faults(client, status, code):
    client.post("/_sandbox/x/faults", json={"status": status, "count": 1})
    response = tweet(client, text="hola")
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code and response.json()["status"] == status
    assert tweet(client, text="hola").status_code == 201


def test_media_downloads_are_not_faulted(client):
    ident = post(client, user="ana", text="foto", photo=True)
    client.post("/_sandbox/x/faults", json={"status": 500, "count": 1})
    assert client.get(f"/x-media/3_{ident}.png").status_code == 200
    assert client.get("/x-media/nope.png").status_code == 404


# -- admin API ---------------------------------------------------------------------


def test_inbound_listing_and_reset(client):
    ident = post(client, user="ana", text="bache", lat=37.2, lon=-3.6)
    dm = post(client, user="luc", text="salut", kind="dm")
    listing = client.get("/_sandbox/x/inbound").json()
    assert [(r["id"], r["user"], r["kind"], r["text"]) for r in listing] == [
        (ident, "ana", "mention", "bache"), (dm, "luc", "dm", "salut")]
    assert listing[0]["lat"] == 37.2 and listing[0]["photo"] is False
    assert client.post("/_sandbox/reset").json() == {"ok": True}
    assert client.get("/_sandbox/x/inbound").json() == [] and mentions(client)["meta"] == {
        "result_count": 0}
    assert int(post(client, user="ana", text="otra")) > int(dm)  # ids keep growing


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"text": "hola"}, 400, "user"),
        ({"user": "ana"}, 400, "text"),
        ({"user": "ana", "text": "hola", "kind": "story"}, 400, "kind"),
        ({"user": "ana", "text": "hola", "lat": 1}, 400, "lon"),
        ({"user": "ana maría", "text": "hola"}, 400, "username"),
        ({"user": "ana", "text": "hola", "kind": "dm", "lat": 1, "lon": 2}, 400, "location"),
        ({"user": "ana", "text": "hola", "reply_to": "123"}, 404, "reply_to"),
        ({"user": "ana", "text": "hola", "reply_to": "abc"}, 400, "reply_to"),
    ],
)
def test_inbound_validation(client, body, status, message):
    response = client.post("/_sandbox/x/inbound", json=body)
    assert response.status_code == status and message in response.json()["error"]


def test_admin_errors(client):
    assert client.post("/_sandbox/x/faults", json={"status": 418}).status_code == 400
    assert client.post("/_sandbox/x/nope", json={}).status_code == 404
    assert client.delete("/_sandbox/x/faults").status_code == 405
    assert client.post("/_sandbox/x/raw", json={"x": 1}).status_code == 400


def test_raw_items_are_served_as_given(client):
    raw = client.post("/_sandbox/x/raw", json={"tweet": {"text": "sin id"}}).json()["id"]
    body = mentions(client)
    assert body["data"] == [{"text": "sin id"}] and body["meta"]["newest_id"] == raw
    client.post("/_sandbox/x/raw", json={"dm_event": {"id": 5}})
    assert api(client, "/2/dm_events", headers=OAUTH)["data"] == [{"id": 5}]


def test_platform_is_listed(client):
    platforms = {p["name"]: p["available"] for p in client.get("/_sandbox/platforms").json()}
    assert platforms["x"] is True
