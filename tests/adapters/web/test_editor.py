"""The playground's character editor: the API checks a character's YAML as ``botkit
characters check`` does (each problem at its line), previews its prompt without writing
anything, saves to the imported pack (never under another pack's id, never outside it),
exports Character Cards; and in a real headless Chromium a typed mistake shows at its line,
the fixed text saves, and the export links download the card."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from botkit.adapters.web.adapter import MAX_BODY
from botkit.adapters.web.editor import MAX_TEXT, editor_routes
from botkit.adapters.web.security import Guard
from playwright.async_api import Page, expect

from botkit.app import App
from botkit.cards.files import read_card_file, write_png
from botkit.playground import PlaygroundHost
from tests.support.browser import screenshot
from tests.support.web import playground

STATIC = {"app.css": "text/css", "editor.js": "application/javascript"}
CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Odile", "description": "{{char}} keeps the lighthouse lamp burning."},
}
ODILE = """\
id: odile
name: Odile
summary: the lighthouse keeper's sister
description: Odile keeps the lighthouse lamp burning through the fog.
persona:
  - She is watchful and dry.
"""
BAD = """\
id: odile
name: Odile
color: octarine
persona:
  - She is watchful and dry.
talkativeness: 7
"""


async def static(request: web.Request) -> web.StreamResponse:
    """The playground's stylesheet and the editor's script, as the adapter serves them."""
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    text = resources.files("botkit.adapters.web").joinpath("static", name).read_text()
    return web.Response(text=text, content_type=STATIC[name])


@asynccontextmanager
async def serving(host: PlaygroundHost) -> AsyncIterator[tuple[str, str]]:
    """The editor's routes for ``host`` behind the playground's guard and body bound, on
    127.0.0.1; the URL and the CSRF token its pages embed."""
    guard = Guard(None)
    server = web.Application(middlewares=[guard.middleware], client_max_size=MAX_BODY)
    server.add_routes([*editor_routes(host, guard.csrf), web.get("/static/{name}", static)])
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", guard.csrf
    finally:
        await runner.cleanup()


@asynccontextmanager
async def editor(tmp_path: Path) -> AsyncIterator[tuple[App, str, dict[str, str]]]:
    """An App with the editor served for it; the URL and the headers a change sends."""
    async with playground(tmp_path) as (app, _), serving(app) as (url, csrf):
        yield app, url, {"X-CSRF-Token": csrf}


def tiny_png() -> bytes:
    """A valid 1×1 grey PNG."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def names_under(folder: Path) -> list[str]:
    """The names of every file and folder under ``folder``."""
    return [path.name for path in folder.rglob("*")]


class Unfiled:
    """The App as a host, except that Bram has no file and Wren's is outside the packs."""

    def __init__(self, app: App, outside: Path) -> None:
        self._app = app
        self._outside = outside

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def character_file(self, character_id: str) -> Path | None:
        """No file for Bram, a stray one for Wren, the App's answer for the others."""
        if character_id == "bram":
            return None
        if character_id == "wren":
            return self._outside
        return self._app.character_file(character_id)


async def test_check_reports_each_problem_at_its_line(tmp_path: Path) -> None:
    async with editor(tmp_path) as (_, url, headers), aiohttp.ClientSession() as session:
        check = url + "api/characters/check"
        async with session.post(check, json={"text": BAD}, headers=headers) as answer:
            assert answer.status == 200
            problems = (await answer.json())["problems"]
        assert {(p["line"], p["field"]) for p in problems} == {(3, "color"), (6, "talkativeness")}
        assert all(p["message"] for p in problems)
        async with session.post(check, json={"text": ODILE}, headers=headers) as answer:
            assert await answer.json() == {"problems": []}
        async with session.post(check, json={"text": "id: [\n"}, headers=headers) as answer:
            [problem] = (await answer.json())["problems"]
        assert problem["message"].startswith("invalid YAML")
        async with session.post(check, json={"text": ODILE}) as answer:
            assert answer.status == 403
        async with session.post(check, data="not json", headers=headers) as answer:
            assert answer.status == 400
        async with session.post(check, json={"text": 7}, headers=headers) as answer:
            assert answer.status == 400
        large = {"text": ODILE + "#" * (MAX_TEXT - len(ODILE))}  # past the chat's bound
        assert len(large["text"]) > MAX_BODY
        async with session.post(check, json=large, headers=headers) as answer:
            assert await answer.json() == {"problems": []}
        huge = {"text": "#" * (MAX_TEXT + 1)}
        async with session.post(check, json=huge, headers=headers) as answer:
            assert answer.status == 413


async def test_preview_shows_the_prompt_and_writes_nothing(tmp_path: Path) -> None:
    async with editor(tmp_path) as (app, url, headers), aiohttp.ClientSession() as session:
        preview = url + "api/characters/preview"
        async with session.post(preview, json={"text": ODILE}, headers=headers) as answer:
            assert answer.status == 200
            shown = await answer.json()
        system = shown["prompt"][0]
        assert system["role"] == "system"
        assert "Odile keeps the lighthouse lamp burning through the fog." in system["content"]
        assert "Mira" in system["content"]  # the others present in the sample scene
        assert [m["role"] for m in shown["prompt"][1:]] == ["user", "user"]
        tokens = shown["tokens"]
        assert 0 < tokens["character"] <= tokens["total"] <= tokens["budget"]
        assert "odile" not in {c.id for c in app.all_characters()}
        assert not (tmp_path / "data" / "imported").exists()
        async with session.post(preview, json={"text": BAD}, headers=headers) as answer:
            assert answer.status == 400
            assert {p["line"] for p in (await answer.json())["problems"]} == {3, 6}


async def test_save_adds_a_character_and_refuses_what_is_wrong(tmp_path: Path) -> None:
    imported = tmp_path / "data" / "imported"
    async with editor(tmp_path) as (app, url, headers), aiohttp.ClientSession() as session:
        save = url + "api/characters"
        async with session.post(save, json={"text": ODILE}, headers=headers) as answer:
            assert (answer.status, await answer.json()) == (200, {"id": "odile"})
        odile = next(c for c in app.all_characters() if c.id == "odile")
        assert odile.description.startswith("Odile keeps the lighthouse lamp")
        assert (imported / "odile.yaml").read_text() == ODILE

        async with session.post(save, json={"text": BAD}, headers=headers) as answer:
            assert answer.status == 400
            problems = (await answer.json())["problems"]
        assert len(problems) == 2
        assert re.search(r"odile\.yaml:3: color: ", problems[0])
        assert re.search(r"odile\.yaml:6: talkativeness: ", problems[1])
        assert (imported / "odile.yaml").read_text() == ODILE

        escaping = ODILE.replace("id: odile", "id: ../../escaped")
        async with session.post(save, json={"text": escaping}, headers=headers) as answer:
            assert answer.status == 400
            [problem] = (await answer.json())["problems"]
        assert problem.startswith("id: ")
        assert not [name for name in names_under(tmp_path) if "escaped" in name]

        mira = (Path(__file__).parents[3] / "characters" / "default" / "mira.yaml").read_text()
        async with session.post(save, json={"text": mira}, headers=headers) as answer:
            assert answer.status == 400
            [problem] = (await answer.json())["problems"]
        assert problem.startswith("id: mira belongs to a character of another pack")
        assert not (imported / "mira.yaml").exists()
        copy = mira.replace("id: mira", "id: mira-copy", 1)
        async with session.post(save, json={"text": copy}, headers=headers) as answer:
            assert await answer.json() == {"id": "mira-copy"}
        assert {"mira", "mira-copy", "odile"} <= {c.id for c in app.all_characters()}


async def test_export_downloads_the_saved_file_as_a_card(tmp_path: Path) -> None:
    async with editor(tmp_path) as (app, url, _), aiohttp.ClientSession() as session:
        card = write_png(tiny_png(), {"chara": CARD})
        assert await app.import_card(card, "odile.png") == "odile"
        async with session.get(url + "api/characters/odile/export?format=png") as answer:
            assert answer.status == 200
            assert answer.content_type == "image/png"
            disposition = answer.headers["Content-Disposition"]
            data = await answer.read()
        assert disposition == 'attachment; filename="odile.png"'
        (tmp_path / "odile.png").write_bytes(data)
        assert read_card_file(tmp_path / "odile.png").card["data"]["name"] == "Odile"

        async with session.get(url + "api/characters/mira/export?format=json") as answer:
            assert answer.content_type == "application/json"
            assert json.loads(await answer.read())["data"]["name"] == "Mira"
        async with session.get(url + "api/characters/mira/export?format=charx") as answer:
            assert answer.content_type == "application/zip"
            assert (await answer.read()).startswith(b"PK")
        async with session.get(url + "api/characters/mira/export?format=png") as answer:
            assert answer.status == 400
            assert "portrait" in (await answer.json())["error"]
        async with session.get(url + "api/characters/mira/export?format=exe") as answer:
            assert answer.status == 400
        for unknown in ("nobody", "..%2F..%2Fpack.yaml", "%2Fetc%2Fpasswd"):
            async with session.get(url + f"api/characters/{unknown}/export") as answer:
                assert answer.status == 404


async def test_the_pages_list_the_characters_and_say_how_saving_works(tmp_path: Path) -> None:
    async with editor(tmp_path) as (app, url, headers), aiohttp.ClientSession() as session:
        async with session.post(url + "api/characters", json={"text": ODILE}, headers=headers):
            pass
        async with session.get(url + "characters") as page:
            listing = await page.text()
        for character in app.all_characters():
            assert f'href="/characters/{character.id}"' in listing
        assert 'href="/characters/_new"' in listing

        async with session.get(url + "characters/mira") as page:
            html = await page.text()
        assert 'name="csrf" content="' in html
        assert "Come in out of the fog, love!" in html
        assert "saving writes a copy into the imported pack" in html
        assert 'href="/api/characters/mira/export?format=png"' in html
        async with session.get(url + "characters/odile") as page:
            assert "Saving overwrites odile.yaml in the imported pack." in await page.text()
        async with session.get(url + "characters/_new") as page:
            html = await page.text()
        assert "id: new-character" in html
        assert "/export?" not in html
        async with session.get(url + "characters/..%2F..%2Fetc%2Fpasswd") as page:
            assert page.status == 404

    outside = tmp_path / "stray" / "wren.yaml"
    outside.parent.mkdir()
    outside.write_text("id: wren\nname: Wren\npersona: [x]\n")
    async with (
        playground(tmp_path) as (app, _),
        serving(Unfiled(app, outside)) as (url, _),
        aiohttp.ClientSession() as session,
    ):
        async with session.get(url + "characters/bram") as page:
            assert "was not loaded from a file" in await page.text()
        async with session.get(url + "characters/wren") as page:
            html = await page.text()
        assert "is not a character file of a pack" in html
        assert "<textarea" not in html
        async with session.get(url + "api/characters/wren/export") as answer:
            assert answer.status == 404


async def test_a_typed_mistake_shows_at_its_line_and_the_fix_saves(
    browser_page: Page, tmp_path: Path
) -> None:
    async with editor(tmp_path) as (app, url, _):
        page = browser_page
        await page.goto(url + "characters/mira")
        status = page.locator("#check-status")
        await expect(status).to_have_text(re.compile("No problems"))
        await expect(page.locator("#mode")).to_contain_text("saving writes a copy")

        text = page.locator("#yaml")
        start = "id: mira-copy\nname: Mira\nsummary: the innkeeper\npersona:\n  - Runs the inn.\n"
        await text.fill(start)
        await text.press("Control+End")
        await text.press_sequentially("talkativeness: 7")
        problem = page.locator("#problems button")
        await expect(problem).to_have_text("line 6: talkativeness: expected a number 0..1, found 7")
        await expect(page.locator("#gutter .bad")).to_have_text("6")
        await screenshot(page, tmp_path / "editor.png")

        await problem.click()
        selected = await text.evaluate("area => [area.selectionStart, area.selectionEnd]")
        assert selected == [len(start), len(start) + len("talkativeness: 7")]
        await page.keyboard.type("talkativeness: 0.7")
        await expect(status).to_have_text(re.compile("No problems"))
        await expect(page.locator("#gutter .bad")).to_have_count(0)

        await page.click("#preview")
        await expect(page.locator("#preview-result pre").first).to_contain_text("Runs the inn.")
        await page.click("#save")
        await expect(page.locator("#saved")).to_contain_text("saved as mira-copy")
        await expect(page.locator("#saved a[href='/']")).to_have_count(1)
        async with page.expect_download() as download:
            await page.click("#export a[data-format=json]")
        assert (await download.value).suggested_filename == "mira.json"
        await page.click("#export a[data-format=png]")
        await expect(page.locator("#saved")).to_contain_text("not exported: ")
        copy = next(c for c in app.all_characters() if c.id == "mira-copy")
        assert copy.talkativeness == 0.7
        assert (tmp_path / "data" / "imported" / "mira-copy.yaml").is_file()
