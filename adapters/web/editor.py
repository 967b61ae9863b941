"""The playground's character editor: a page listing the characters, and one that edits a
character's YAML with the checks of ``botkit characters check`` as it is typed, previews
the prompt the model would see, saves to the imported pack and exports Character Cards."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from botkit.adapters.web.page import frame, tool_links

from botkit.cards.convert import CardConversionError, export_card
from botkit.characters.errors import CharacterError
from botkit.characters.loader import check_character_text, load_character
from botkit.characters.model import Character
from botkit.characters.yaml_limits import YamlTooLargeError, read_yaml_text
from botkit.playground import PlaygroundHost
from botkit.preview import CAST_SIZE, REPLY_TOKENS, preview_prompt
from botkit.tokens import default_token_counter

__all__ = ["editor_routes"]

MAX_TEXT = 256 * 1024
"""The largest character YAML the editor's API takes, in bytes of UTF-8."""
MAX_BODY = 2 * MAX_TEXT
"""The largest request body: the text plus what JSON escaping adds to it."""
PREVIEW_WINDOW = 2048
"""The context window the preview is budgeted for (a small local model's)."""
CHECKED_AS = Path("character.yaml")
"""The file name a text is checked and previewed as (problems carry only their line)."""
NEW = "_new"
"""The id in the editor's address for a character not written yet (no id starts with _)."""
CARD_TYPES = {"png": "image/png", "json": "application/json", "charx": "application/zip"}
"""The formats a character is exported in, each with its Content-Type (a CHARX file is a
zip archive)."""
TEMPLATE = """\
id: new-character
name: New Character
summary: a stranger who has just walked in
persona:
  - Who they are, one fact a line.
style: How they talk, in a sentence.
greeting: Evening. Mind if I sit here?
"""
"""The YAML a new character starts from (it passes the checks)."""

STYLE = """
body.editor-page { grid-template-columns: 11rem 1fr 26rem; grid-template-rows: minmax(0, 1fr); }
.editor { display: flex; flex-direction: column; min-width: 0; padding: 0 1rem 1rem;
          overflow-y: auto; }
.editor header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 0 .4rem; }
.editor h2 { margin: 0; font-size: 1.1rem; }
.editor h2 code, .character-list code { color: var(--dim); font-size: .85rem; }
.mode { margin: 0 0 .6rem; color: var(--dim); }
.code { flex: 1; display: flex; min-height: 0; border: 1px solid var(--line);
        border-radius: 4px; background: var(--panel); }
.gutter, #yaml { font: 13px/20px ui-monospace, monospace; margin: 0; }
.gutter { overflow: hidden; min-width: 3.2rem; padding: 8px 0 40px; text-align: right;
          color: var(--dim); background: var(--bg); border-right: 1px solid var(--line);
          user-select: none; }
.gutter div { height: 20px; padding: 0 .5rem; }
.gutter .bad { background: #f6d5cf; color: #9b2c1c; font-weight: 700; cursor: pointer; }
#yaml { flex: 1; border: 0; padding: 8px .6rem; resize: none; white-space: pre;
        overflow: auto; outline: none; background: transparent; color: var(--ink); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding-top: .6rem; }
.actions .export { margin-left: auto; }
.saved { margin: .4rem 0 0; min-height: 1.4em; }
.ok { color: #3d7a39; }
.bad { color: #9b2c1c; }
.problems { list-style: none; padding: 0; margin: .4rem 0 1rem; font-size: .9rem; }
.problems button { all: unset; cursor: pointer; color: #9b2c1c; }
.problems button:hover, .problems button:focus { text-decoration: underline; }
.preview .role { font-weight: 600; font-size: .8rem; text-transform: uppercase; color: var(--dim); }
.preview pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem;
               background: var(--bg); padding: .4rem; border-radius: 4px; margin: .2rem 0 .6rem; }
.preview table { border-collapse: collapse; font-size: .85rem; }
.preview td { padding: .1rem .6rem .1rem 0; border-bottom: 1px solid var(--line); }
.character-list { list-style: none; padding: 0; margin: 0; }
.character-list li { padding: .5rem 0; border-bottom: 1px solid var(--line); }
.character-list .how { color: var(--dim); font-size: .85rem; margin-left: .4rem; }
.character-list .summary { color: var(--dim); font-size: .9rem; }
a.button { display: inline-block; padding: .3rem .7rem; border: 1px solid var(--line);
           border-radius: 4px; background: var(--panel); color: var(--ink); text-decoration: none; }
"""
"""What the editor's pages add to app.css."""


def editor_routes(host: PlaygroundHost, guard_csrf: str) -> list[web.RouteDef]:
    """The editor's pages and API, for the playground's app; ``guard_csrf`` is the token
    the pages embed for their changes to send back."""
    editor = _Editor(host, guard_csrf)
    return [
        web.get("/characters", editor.index),
        web.get("/characters/{id}", editor.page),
        web.post("/api/characters/check", editor.check),
        web.post("/api/characters/preview", editor.preview),
        web.post("/api/characters", editor.save),
        web.get("/api/characters/{id}/export", editor.export),
    ]


class _Editor:
    """The editor's request handlers, over the core they read and change."""

    def __init__(self, host: PlaygroundHost, csrf: str) -> None:
        self._host = host
        self._csrf = csrf

    async def index(self, request: web.Request) -> web.StreamResponse:
        """Every character, each with a link to its editor and how saving it works."""
        items = []
        for character in self._host.all_characters():
            if self._host.character_file(character.id) is None:
                how = "no file: cannot be edited"
            elif self._host.may_edit(character.id):
                how = "imported: saved in place"
            else:
                how = "pack: saved as a copy"
            items.append(
                f'<li><a href="{_editor_url(character.id)}">{escape(character.name)}</a> '
                f'<code>{escape(character.id)}</code><span class="how">{how}</span>'
                f'<div class="summary">{escape(character.summary)}</div></li>'
            )
        body = f"""<main class="editor">
  <header><h2>Characters</h2><a class="button" id="new" href="{_editor_url(NEW)}">New character</a>
  </header>
  <ul id="characters" class="character-list">{"".join(items)}</ul>
</main>
<aside class="side">
  <p>Each character is a YAML file of a pack. Characters of the imported pack (cards
  imported here, characters saved here) are saved in place; saving any other character
  writes a copy into the imported pack, under an id of its own.</p>
</aside>"""
        return _html(_page("characters", self._csrf, body, script=False))

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The editor of one character (or of a new one), or why it cannot be edited."""
        character_id = request.match_info["id"]
        if character_id == NEW:
            mode = "Saving writes a new character into the imported pack."
            return _html(self._editor("new character", None, TEMPLATE, mode))
        character = _known(self._host, character_id)
        source = _pack_file(self._host, character)
        if isinstance(source, str):
            return _html(self._notice(character, source))
        try:
            text = await asyncio.to_thread(read_yaml_text, source)
        except OSError as error:
            return _html(self._notice(character, f"{source} cannot be read: {error.strerror}."))
        except (UnicodeDecodeError, YamlTooLargeError) as error:
            return _html(self._notice(character, f"{source} cannot be read: {error}."))
        if self._host.may_edit(character.id):
            mode = f"Saving overwrites {source.name} in the imported pack."
        else:
            mode = (
                f"{source} belongs to a pack and stays as it is: saving writes a copy into the"
                " imported pack, so give the copy an id of its own first."
            )
        return _html(self._editor(character.name, character, text, mode))

    async def check(self, request: web.Request) -> web.StreamResponse:
        """``{text}``: every problem ``botkit characters check`` finds in it, by line."""
        text = await _text_of(request)
        problems = await asyncio.to_thread(check_character_text, text, CHECKED_AS)
        return web.json_response({"problems": [_problem_view(p) for p in problems]})

    async def preview(self, request: web.Request) -> web.StreamResponse:
        """``{text}``: the prompt the character would get in the sample scene, with what
        each part costs in tokens; nothing is written. A text with problems: 400."""
        text = await _text_of(request)
        problems = await asyncio.to_thread(check_character_text, text, CHECKED_AS)
        if problems:
            return web.json_response({"problems": [_problem_view(p) for p in problems]}, status=400)
        character = await asyncio.to_thread(_load, text)
        everyone = self._host.all_characters()
        known = next((c for c in everyone if c.id == character.id), None)
        if known is not None:
            character = dataclasses.replace(character, setting=known.setting)
        prompt = await preview_prompt(
            character,
            [other for other in everyone[:CAST_SIZE] if other.id != character.id],
            counter=await asyncio.to_thread(default_token_counter),
            context_window=PREVIEW_WINDOW,
            reply_tokens=REPLY_TOKENS,
        )
        return web.json_response(
            {
                "prompt": [
                    {"role": message.role, "content": message.content}
                    for message in prompt.messages
                ],
                "tokens": {
                    "character": prompt.character_tokens,
                    "lore": prompt.lore_tokens,
                    "context": prompt.context_tokens,
                    "turns": prompt.turn_tokens,
                    "after the chat": prompt.closing_tokens,
                    "total": prompt.total_tokens,
                    "budget": prompt.budget,
                },
            }
        )

    async def save(self, request: web.Request) -> web.StreamResponse:
        """``{text}``: check it, write it to the imported pack and load it; ``{id}``.
        What is wrong: 400 with ``{problems}``, one line each."""
        text = await _text_of(request)
        try:
            character_id = await self._host.save_character(text)
        except ValueError as error:
            return web.json_response({"problems": str(error).splitlines()}, status=400)
        return web.json_response({"id": character_id})

    async def export(self, request: web.Request) -> web.StreamResponse:
        """A character's file as a Character Card download (``?format=png|json|charx``)."""
        character = _known(self._host, request.match_info["id"])
        fmt = request.query.get("format", "json")
        kind = CARD_TYPES.get(fmt)
        if kind is None:
            raise web.HTTPBadRequest(text=f"format: expected one of {', '.join(CARD_TYPES)}")
        source = _pack_file(self._host, character)
        if isinstance(source, str):
            raise web.HTTPNotFound(text=source)
        try:
            data = await asyncio.to_thread(_export, source, f"{character.id}.{fmt}", fmt)
        except CardConversionError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.Response(
            body=data,
            content_type=kind,
            headers={"Content-Disposition": f'attachment; filename="{character.id}.{fmt}"'},
        )

    def _editor(self, title: str, character: Character | None, text: str, mode: str) -> str:
        """The editor page holding ``text``; export links when ``character`` has a file."""
        heading = escape(title)
        exports = ""
        if character is not None:
            heading += f" <code>{escape(character.id)}</code>"
            links = " ".join(
                f'<a class="button" href="/api/characters/{quote(character.id, safe="")}'
                f'/export?format={fmt}" data-format="{fmt}">{fmt.upper()}</a>'
                for fmt in CARD_TYPES
            )
            exports = f'<span class="export" id="export">Export the saved file: {links}</span>'
        body = f"""<main class="editor">
  <header><h2>{heading}</h2></header>
  <p id="mode" class="mode">{escape(mode)}</p>
  <div class="code">
    <div id="gutter" class="gutter" aria-hidden="true"></div>
    <textarea id="yaml" wrap="off" spellcheck="false" autocomplete="off"
              aria-label="character YAML">
{escape(text)}</textarea>
  </div>
  <div class="actions">
    <button id="check" type="button">Check</button>
    <button id="preview" type="button">Preview</button>
    <button id="save" type="button">Save</button>
    {exports}
  </div>
  <div id="saved" class="saved" role="status"></div>
</main>
<aside class="side">
  <section>
    <h3>Check</h3>
    <div id="check-status" aria-live="polite">not checked yet</div>
    <ol id="problems" class="problems"></ol>
  </section>
  <section class="preview">
    <h3>Preview</h3>
    <div id="preview-result"><p class="mode">What the model would see in a sample scene
      (Preview).</p></div>
  </section>
</aside>"""
        return _page(title, self._csrf, body, script=True)

    def _notice(self, character: Character, message: str) -> str:
        """A page saying why ``character`` cannot be edited here."""
        body = f"""<main class="editor">
  <header><h2>{escape(character.name)} <code>{escape(character.id)}</code></h2></header>
  <p id="notice" class="bad">{escape(message)}</p>
  <p><a href="/characters">All characters</a></p>
</main>"""
        return _page(character.name, self._csrf, body, script=False)


def _page(title: str, csrf: str, body: str, *, script: bool) -> str:
    """A whole editor page around ``body``, with the rooms and characters links."""
    tag = '<script src="/static/editor.js"></script>' if script else ""
    return frame(
        title=title,
        csrf=csrf,
        nav=f'<ul><li><a href="/">Rooms</a></li>{tool_links("/characters")}</ul>',
        body=f"{body}\n{tag}",
        body_class="editor-page",
        head=f"<style>{STYLE}</style>",
    )


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


def _editor_url(character_id: str) -> str:
    return escape(f"/characters/{quote(character_id, safe='')}")


def _known(host: PlaygroundHost, character_id: str) -> Character:
    """The character with this id. Raises HTTPNotFound for any other text."""
    for character in host.all_characters():
        if character.id == character_id:
            return character
    raise web.HTTPNotFound(text=f"no character {character_id!r}")


def _pack_file(host: PlaygroundHost, character: Character) -> Path | str:
    """The YAML file ``character`` was loaded from, or why the editor may not open one: it
    has none, or it is not a YAML file inside a pack folder."""
    path = host.character_file(character.id)
    if path is None:
        return f"{character.name} was not loaded from a file: there is nothing to edit or export."
    real = path.resolve()
    in_pack = any((folder / "pack.yaml").is_file() for folder in real.parents)
    if real.suffix not in (".yaml", ".yml") or not in_pack:
        return (
            f"{character.name}'s file {path} is not a character file of a pack:"
            " the editor only opens the packs' files."
        )
    return real


async def _text_of(request: web.Request) -> str:
    """The ``text`` of a JSON request ``{"text": …}``, read within the size bounds.

    Raises:
        HTTPRequestEntityTooLarge: the body or the text is too large.
        HTTPBadRequest: the body is not such JSON.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length)
    data = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY, len(data))
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(text='expected JSON: {"text": …}') from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise web.HTTPBadRequest(text='expected JSON: {"text": …}')
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT:
        raise web.HTTPRequestEntityTooLarge(MAX_TEXT, size)
    return text


def _problem_view(problem: CharacterError) -> dict[str, Any]:
    return {"line": problem.line, "field": problem.field, "message": problem.message}


def _load(text: str) -> Character:
    """The character in ``text`` (already checked), loaded from a file of its own that is
    gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="botkit-preview-") as folder:
        path = Path(folder) / CHECKED_AS.name
        path.write_text(text, encoding="utf-8")
        return load_character(path)


def _export(source: Path, name: str, fmt: str) -> bytes:
    """The card file ``export_card`` makes of ``source`` in format ``fmt``."""
    with tempfile.TemporaryDirectory(prefix="botkit-export-") as folder:
        out = Path(folder) / name
        export_card(source, out, fmt=fmt)
        return out.read_bytes()
