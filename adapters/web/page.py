"""The playground's one page, rendered on the server; app.js fills it in."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["frame", "render_page", "tool_links"]

TOOLS = (("/characters", "Characters"), ("/evals", "Evals"))
"""The pages beside the rooms, linked from every page."""


def tool_links(current: str = "") -> str:
    """The links to the characters and evals pages (``current`` marked as this page)."""
    return "".join(
        f'<li><a href="{href}"{" aria-current=page" if href == current else ""}>{label}</a></li>'
        for href, label in TOOLS
    )


def frame(
    *, title: str, csrf: str, nav: str, body: str, body_class: str = "", head: str = ""
) -> str:
    """A whole playground page: the head (CSRF token, stylesheet, ``head``), the ``nav``
    links and ``body``."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{escape(csrf)}">
<title>botkit · {escape(title)}</title>
<link rel="stylesheet" href="/static/app.css">
{head}
</head>
<body class="{escape(body_class)}">
<nav class="rooms"><h1>botkit</h1>{nav}</nav>
{body}
</body>
</html>
"""


def render_page(*, room: str, rooms: Sequence[str], csrf: str) -> str:
    """The HTML of ``room``'s page, with links to the other rooms and the CSRF token."""
    links = "".join(
        f'<li><a href="/room/{escape(name)}"{" aria-current=page" if name == room else ""}>'
        f"#{escape(name)}</a></li>"
        for name in rooms
    )
    body = f"""<main class="chat">
  <header><h2>#{escape(room)}</h2><span id="status" class="status">connecting…</span></header>
  <ol id="log" class="log" aria-live="polite"></ol>
  <form id="say" class="say">
    <input id="text" name="text" autocomplete="off" placeholder="Say something, or /help"
           aria-label="message">
    <button type="submit">Send</button>
  </form>
</main>
<aside class="side">
  <section id="cast-panel">
    <h3>Cast</h3>
    <ul id="cast" class="cast"></ul>
    <form id="add" class="add">
      <select id="add-choice" aria-label="character to add"></select>
      <button type="submit">Add</button>
    </form>
    <form id="scene" class="add">
      <input id="scene-text" placeholder="the scene" aria-label="scene">
      <button type="submit">Set</button>
    </form>
    <form id="policy" class="add">
      <select id="policy-choice" aria-label="turn-taking policy"></select>
      <button type="submit">Policy</button>
    </form>
    <label id="drop" class="drop">Drop a Character Card here (PNG, JSON, CHARX) or
      <input id="card" type="file" accept=".png,.json,.charx,image/png,application/json">
    </label>
  </section>
  <section id="memory-panel" class="memory">
    <h3>Memory</h3>
    <form id="recall" class="add">
      <input id="recall-text" placeholder="what do they remember about…" aria-label="recall">
      <button type="submit">Search</button>
    </form>
    <ul id="memories" class="memories"></ul>
  </section>
  <section id="why-panel" class="why" hidden>
    <h3>Why <button id="why-close" type="button" aria-label="close">×</button></h3>
    <div id="why"></div>
  </section>
</aside>
<script src="/static/app.js"></script>
"""
    nav = f'<ul>{links}</ul><ul class="tools">{tool_links()}</ul>'
    return frame(
        title=f"#{room}",
        csrf=csrf,
        nav=nav,
        body=body,
        head=f'<meta name="room" content="{escape(room)}">',
    )
