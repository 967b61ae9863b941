"""The playground's HTTP side: loopback by default, a token elsewhere, CSRF on every
change, bounded uploads checked as the CLI checks them, and the why API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botkit.adapters.web import WebAdapter
from botkit.adapters.web.adapter import MAX_CARD

from botkit.app import App, ConfigurationError
from botkit.config import parse_config
from botkit.testing import InstantBackend
from tests.support.embedders import CountingEmbedder
from tests.support.web import playground


async def csrf_of(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url + "room/tavern") as page:
        assert page.status == 200
        found = re.search(r'name="csrf" content="([^"]+)"', await page.text())
        assert found is not None
        return found.group(1)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_a_bind_beyond_loopback_without_a_token_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="reachable from other machines: set token"):
        WebAdapter(host=host)
    assert WebAdapter(host=host, token="s3cret") is not None


async def test_the_app_refuses_to_start_it_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"adapters\.web.*set token") as error:
        async with playground(tmp_path, host="0.0.0.0"):
            pass
    assert "\n" not in str(error.value)


async def test_with_a_token_nothing_is_served_without_it(tmp_path: Path) -> None:
    async with playground(tmp_path, token="s3cret") as (_, url):
        # Like a browser, keep cookies of an IP address (aiohttp's jar does not by default).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(url + "room/tavern") as page:
                assert page.status == 401
            async with session.get(url + "room/tavern?token=wrong") as page:
                assert page.status == 401
            async with session.get(url + "room/tavern?token=s3cret") as page:
                assert page.status == 200
                assert "#tavern" in await page.text()
            async with session.get(url + "api/room/tavern/state") as state:
                assert state.status == 200
        async with aiohttp.ClientSession() as other:
            headers = {"Authorization": "Bearer s3cret"}
            async with other.get(url + "api/room/tavern/state", headers=headers) as state:
                assert state.status == 200


async def test_a_change_needs_the_pages_csrf_token_and_its_origin(tmp_path: Path) -> None:
    async with playground(tmp_path) as (app, url), aiohttp.ClientSession() as session:
        csrf = await csrf_of(session, url)
        say = url + "api/room/tavern/say"
        body = {"text": "/add wren"}
        async with session.post(say, json=body) as answer:
            assert answer.status == 403
        async with session.post(say, json=body, headers={"X-CSRF-Token": "forged"}) as answer:
            assert answer.status == 403
        evil = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        async with session.post(say, json=body, headers=evil) as answer:
            assert answer.status == 403
        await app.wait_idle()
        assert "wren" not in await app.cast_ids(channel())
        async with session.post(say, json=body, headers={"X-CSRF-Token": csrf}) as answer:
            assert answer.status == 200
        await app.wait_idle()
        assert await app.cast_ids(channel()) == ["mira", "bram", "wren"]


async def test_bad_requests_are_refused_with_a_reason(tmp_path: Path) -> None:
    async with playground(tmp_path) as (_, url), aiohttp.ClientSession() as session:
        headers = {"X-CSRF-Token": await csrf_of(session, url)}
        async with session.get(url + "room/nowhere") as page:
            assert page.status == 404
        async with session.get(url + "static/../adapter.py") as page:
            assert page.status == 404
        say = url + "api/room/tavern/say"
        async with session.post(say, data="not json", headers=headers) as answer:
            assert answer.status == 400
        async with session.post(say, json={"text": "   "}, headers=headers) as answer:
            assert answer.status == 400
        async with session.post(say, json={"text": "x" * 70_000}, headers=headers) as answer:
            assert answer.status == 413


async def test_a_card_upload_is_checked_bounded_and_imported(tmp_path: Path) -> None:
    async with playground(tmp_path) as (app, url), aiohttp.ClientSession() as session:
        headers = {"X-CSRF-Token": await csrf_of(session, url)}

        async def upload(data: bytes, name: str) -> tuple[int, dict[str, Any]]:
            form = aiohttp.FormData()
            form.add_field("card", data, filename=name)
            async with session.post(url + "api/cards", data=form, headers=headers) as answer:
                json_body = answer.content_type == "application/json"
                return answer.status, await answer.json() if json_body else {}

        status, body = await upload(b"not a card at all", "../../etc/junk.json")
        assert status == 400
        assert body["error"].startswith("junk.json: ")
        assert "\n" not in body["error"]
        card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Odile"}}
        status, body = await upload(json.dumps(card).encode(), "odile.json")
        assert status == 400
        assert "odile.json" in body["error"]
        card["data"]["description"] = "{{char}} keeps the lighthouse lamp."
        status, body = await upload(json.dumps(card).encode(), "odile.json")
        assert (status, body) == (200, {"id": "odile"})
        assert "odile" in {c.id for c in app.all_characters()}
        assert (tmp_path / "data" / "imported" / "odile.yaml").is_file()
        status, _ = await upload(b"x" * (MAX_CARD + 1), "huge.png")
        assert status == 413


async def test_why_answers_for_a_reply_and_for_a_message_nobody_answered(
    tmp_path: Path,
) -> None:
    async with playground(tmp_path) as (app, url), aiohttp.ClientSession() as session:
        headers = {"X-CSRF-Token": await csrf_of(session, url)}
        say = url + "api/room/tavern/say"
        async with session.post(say, json={"text": "Mira, supper?"}, headers=headers) as answer:
            asked = (await answer.json())["id"]
        await app.wait_idle()
        [turn] = [t for t in await app.history(channel(), 10) if t.is_character]
        async with session.get(url + f"api/room/tavern/why/{turn.message_id}") as answer:
            why = await answer.json()
        assert why["reason"] == "addressed: mira"
        assert why["candidates"][0]["id"] == "mira"
        assert why["reply"]["character_id"] == "mira"
        assert dict(why["reply"]["prompt_tokens"])["transcript"] > 0
        async with session.get(url + f"api/room/tavern/why/{asked}") as answer:
            assert (await answer.json())["speakers"] == ["mira"]
        async with session.post(say, json={"text": "/policy manual"}, headers=headers):
            pass
        await app.wait_idle()
        async with session.post(say, json={"text": "Nice weather."}, headers=headers) as answer:
            quiet = (await answer.json())["id"]
        await app.wait_idle()
        async with session.get(url + f"api/room/tavern/why/{quiet}") as answer:
            why = await answer.json()
        assert why["nobody"] is True
        assert why["reason"]
        async with session.get(url + "api/room/tavern/why/unknown") as answer:
            assert answer.status == 404


def channel():  # type: ignore[no-untyped-def]
    from botkit.events import ChannelKey

    return ChannelKey("web", "local", "tavern")


async def test_the_memory_panel_lists_searches_and_forgets(tmp_path: Path) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"observations": "off"},
            "adapters": {"web": {"port": 0}},
        }
    )
    backend = InstantBackend("The ferry leaves at dawn.")
    async with (
        App(config, backends={"instant": backend}, embedder=CountingEmbedder()) as app,
        aiohttp.ClientSession() as session,
    ):
        url = app.adapters["web"].url
        headers = {"X-CSRF-Token": await csrf_of(session, url)}
        say = url + "api/room/tavern/say"
        for text in ("Mira, when does the ferry leave?", "Bram, are the nets mended?"):
            async with session.post(say, json={"text": text}, headers=headers):
                pass
            await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()
        memory = url + "api/room/tavern/memory"
        async with session.get(memory) as answer:
            items = (await answer.json())["items"]
        assert {item["text"] for item in items} >= {"Mira, when does the ferry leave?"}
        assert all(item["score"] is None for item in items)
        async with session.get(memory, params={"q": "nets mended"}) as answer:
            found = (await answer.json())["items"]
        assert found[0]["text"] == "Bram, are the nets mended?"
        assert found[0]["score"] is not None
        forget = f"{memory}/{found[0]['id']}/forget"
        async with session.post(forget) as answer:
            assert answer.status == 403
        async with session.post(forget, headers=headers) as answer:
            assert await answer.json() == {"forgotten": 1}
        async with session.get(memory) as answer:
            left = {item["text"] for item in (await answer.json())["items"]}
        assert "Bram, are the nets mended?" not in left
        assert "Mira, when does the ferry leave?" in left


async def test_with_memory_off_the_panel_says_so(tmp_path: Path) -> None:
    async with playground(tmp_path) as (_, url), aiohttp.ClientSession() as session:
        async with session.get(url + "api/room/tavern/memory") as answer:
            body = await answer.json()
        assert body == {
            "error": "long-term memory is off (memory.enabled in the config)",
            "items": [],
        }


def test_the_url_names_an_ipv6_address_in_brackets() -> None:
    assert WebAdapter(host="::1", port=8800).url == "http://[::1]:8800/"
    assert WebAdapter(host="127.0.0.1", port=8800).url == "http://127.0.0.1:8800/"
