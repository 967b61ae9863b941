// botkit playground: the room's chat over server-sent events, the cast panel, and the
// why panel. Everything shown comes from the server; text is always set as text.
"use strict";

const room = document.querySelector("meta[name=room]").content;
const csrf = document.querySelector("meta[name=csrf]").content;
const api = (path) => `/api/room/${encodeURIComponent(room)}${path}`;
const log = document.getElementById("log");
const status = document.getElementById("status");
const palette = ["#b5523b", "#3b7bb5", "#4f9a4a", "#9a4a8f", "#b58a2e", "#2e9a9a", "#6b5bb5"];
const streaming = new Map();
let characters = new Map();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Characters name terminal colours; these are their shades readable on the page.
const shades = {
  red: "#b5523b", green: "#4f9a4a", yellow: "#a87a12", blue: "#3b7bb5",
  magenta: "#9a4a8f", cyan: "#23878a", white: "#6b6b6b", black: "#333333",
};

function colourOf(id, colour) {
  const name = (colour || "").toLowerCase().replace(/^bright[_ -]?/, "");
  if (shades[name]) return shades[name];
  if (colour && /^#[0-9a-f]{3,8}$/i.test(colour)) return colour;
  let hash = 0;
  for (const ch of id || "") hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return palette[hash % palette.length];
}

function avatar(name, id, colour, url) {
  const box = element("span", "avatar");
  if (url && /^https?:\/\//.test(url)) {
    const img = element("img");
    img.alt = "";
    img.src = url;
    box.append(img);
  } else {
    box.textContent = (name || "?").slice(0, 1).toUpperCase();
  }
  box.style.background = id ? colourOf(id, colour) : "";
  return box;
}

function line({ id, name, text, character_id, color, avatar: url }) {
  const item = element("li", character_id ? "character" : "human");
  if (id) item.dataset.id = id;
  if (character_id) item.dataset.character = character_id;
  const body = element("div", "body");
  const who = element("span", "name", name);
  if (character_id) who.style.color = colourOf(character_id, color);
  body.append(who);
  const why = element("button", "whybtn", "why");
  why.type = "button";
  why.addEventListener("click", () => showWhy(item.dataset.id));
  body.append(why);
  body.append(element("div", "text", text || ""));
  item.append(avatar(name, character_id, color, url), body);
  log.append(item);
  log.scrollTop = log.scrollHeight;
  return item;
}

function notice(text) {
  log.append(element("li", "notice", text));
  log.scrollTop = log.scrollHeight;
}

function onEvent(event) {
  if (event.type === "message") {
    line(event);
  } else if (event.type === "start") {
    streaming.set(event.id, line({ ...event, text: "" }));
  } else if (event.type === "delta") {
    const item = streaming.get(event.id);
    if (item) {
      item.querySelector(".text").textContent += event.text;
      log.scrollTop = log.scrollHeight;
    }
  } else if (event.type === "end") {
    const item = streaming.get(event.id);
    if (item) item.dataset.done = "true";
    streaming.delete(event.id);
  } else if (event.type === "notice") {
    notice(event.text);
    loadState(false);
  }
}

async function post(text) {
  const answer = await fetch(api("/say"), {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ text }),
  });
  if (!answer.ok) notice(`Cannot send: ${await answer.text()}`);
}

function castButton(label, command) {
  const button = element("button", "", label);
  button.type = "button";
  button.addEventListener("click", () => post(command));
  return button;
}

function renderSettings(state) {
  const choice = document.getElementById("policy-choice");
  if (document.activeElement === choice) return;
  choice.replaceChildren();
  for (const name of state.policies) {
    const option = element("option", "", name);
    option.value = name;
    option.selected = name === state.policy;
    choice.append(option);
  }
  const scene = document.getElementById("scene-text");
  if (document.activeElement !== scene) scene.value = state.scene;
}

function renderCast(cast, muted) {
  const list = document.getElementById("cast");
  list.replaceChildren();
  for (const id of cast) {
    const character = characters.get(id) || { id, name: id };
    const item = element("li");
    item.dataset.id = id;
    item.append(
      avatar(character.name, id, character.color, character.avatar),
      element("span", "name", character.name),
      muted.includes(id) ? castButton("unmute", `/unmute ${id}`) : castButton("mute", `/mute ${id}`),
      castButton("remove", `/remove ${id}`),
    );
    const swap = element("button", "", "swap");
    swap.type = "button";
    swap.title = "swap for the character chosen below";
    swap.addEventListener("click", () => {
      const joining = document.getElementById("add-choice").value;
      if (joining) post(`/swap ${id} ${joining}`);
    });
    item.append(swap);
    list.append(item);
  }
  const choice = document.getElementById("add-choice");
  choice.replaceChildren();
  for (const character of characters.values()) {
    if (cast.includes(character.id)) continue;
    const option = element("option", "", character.name);
    option.value = character.id;
    choice.append(option);
  }
}

async function loadState(withHistory) {
  const answer = await fetch(api("/state"));
  if (!answer.ok) return;
  const state = await answer.json();
  characters = new Map(state.characters.map((c) => [c.id, c]));
  renderCast(state.cast, state.muted);
  renderSettings(state);
  if (withHistory) {
    log.replaceChildren();
    for (const turn of state.history) line(turn);
  }
}

function table(headings, rows) {
  const grid = element("table");
  const head = element("tr");
  for (const heading of headings) head.append(element("th", "", heading));
  grid.append(head);
  for (const row of rows) {
    const tr = element("tr");
    for (const cell of row) {
      const td = element("td");
      td.append(cell instanceof Node ? cell : document.createTextNode(String(cell)));
      tr.append(td);
    }
    grid.append(tr);
  }
  return grid;
}

async function showWhy(messageId) {
  const panel = document.getElementById("why-panel");
  const box = document.getElementById("why");
  box.replaceChildren();
  panel.hidden = false;
  if (!messageId) {
    box.append(element("p", "", "No trace for this line."));
    return;
  }
  const answer = await fetch(api(`/why/${encodeURIComponent(messageId)}`));
  if (!answer.ok) {
    box.append(element("p", "", "No trace for this line (said before the page's server started?)."));
    return;
  }
  const why = await answer.json();
  box.append(element("div", "policy", `Policy: ${why.policy}`));
  const reason = why.nobody ? `NOBODY: ${why.reason}` : why.reason;
  box.append(element("div", "reason", reason));
  box.append(element("h4", "", "Candidates"));
  box.append(
    table(
      ["who", "score", "features"],
      why.candidates.map((c) => [
        (characters.get(c.id) || { name: c.id }).name,
        c.score.toFixed(3),
        element("span", "features", c.features.map(([f, v]) => `${f} ${v.toFixed(2)}`).join(", ")),
      ]),
    ),
  );
  const reply = why.reply;
  if (!reply) return;
  box.append(element("h4", "", "Prompt (tokens)"));
  box.append(table(["part", "tokens"], reply.prompt_tokens));
  box.append(element("h4", "", "Recalled"));
  if (reply.recalled.length) {
    box.append(
      table(
        ["kind", "score", "text"],
        reply.recalled.map((r) => [r.kind, r.score === null ? "" : r.score.toFixed(3), r.text]),
      ),
    );
  } else {
    box.append(element("p", "features", "nothing beyond the transcript"));
  }
  box.append(element("h4", "", "Backend"));
  const first = reply.first_token_ms === null ? "–" : `${reply.first_token_ms} ms`;
  box.append(element("p", "latency", `${reply.backend}: first token ${first}, all ${reply.total_ms} ms`));
}

async function loadMemories() {
  const query = document.getElementById("recall-text").value.trim();
  const answer = await fetch(api(`/memory?q=${encodeURIComponent(query)}`));
  const list = document.getElementById("memories");
  list.replaceChildren();
  if (!answer.ok) return;
  const found = await answer.json();
  if (found.error) {
    list.append(element("li", "features", found.error));
    return;
  }
  if (!found.items.length) list.append(element("li", "features", "nothing remembered yet"));
  for (const item of found.items) {
    const entry = element("li");
    entry.dataset.id = item.id;
    const meta = element("div", "meta");
    const score = item.score === null ? "" : ` · ${item.score.toFixed(3)}`;
    meta.append(element("span", "", `${item.kind} · ${item.speaker} · ${item.time}${score}`));
    const forget = element("button", "", "forget");
    forget.type = "button";
    forget.addEventListener("click", async () => {
      const gone = await fetch(api(`/memory/${item.id}/forget`), {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
      });
      if (!gone.ok) notice(`Cannot forget: ${await gone.text()}`);
      loadMemories();
    });
    meta.append(forget);
    entry.append(meta, element("div", "text", item.text));
    list.append(entry);
  }
}

document.getElementById("recall").addEventListener("submit", (event) => {
  event.preventDefault();
  loadMemories();
});

document.getElementById("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  const text = input.value.trim();
  if (text) post(text);
  input.value = "";
});

document.getElementById("scene").addEventListener("submit", (event) => {
  event.preventDefault();
  post(`/scene ${document.getElementById("scene-text").value.trim()}`);
});

document.getElementById("policy").addEventListener("submit", (event) => {
  event.preventDefault();
  post(`/policy ${document.getElementById("policy-choice").value}`);
});

document.getElementById("add").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("add-choice").value;
  if (id) post(`/add ${id}`);
});

async function importCard(file) {
  const form = new FormData();
  form.append("card", file, file.name);
  const answer = await fetch("/api/cards", {
    method: "POST",
    headers: { "X-CSRF-Token": csrf },
    body: form,
  });
  const result = await answer.json().catch(() => ({ error: `upload refused (${answer.status})` }));
  if (result.error) {
    notice(`Cannot import ${file.name}: ${result.error}`);
    return;
  }
  notice(`Imported ${file.name} as ${result.id}.`);
  await loadState(false);
  await post(`/add ${result.id}`);
}

const drop = document.getElementById("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  for (const file of event.dataTransfer.files) importCard(file);
});
document.getElementById("card").addEventListener("change", (event) => {
  for (const file of event.target.files) importCard(file);
  event.target.value = "";
});

document.getElementById("why-close").addEventListener("click", () => {
  document.getElementById("why-panel").hidden = true;
});

loadMemories();
loadState(true).then(() => {
  const source = new EventSource(api("/events"));
  source.onopen = () => { status.textContent = "connected"; };
  source.onerror = () => { status.textContent = "reconnecting…"; };
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
});
