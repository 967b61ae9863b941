// botkit character editor: the YAML is checked as it is typed, each problem shown at its
// line; Preview shows the prompt the model would see; Save writes to the imported pack;
// Export downloads the saved file as a Character Card. Text is always set as text.
"use strict";

const csrf = document.querySelector("meta[name=csrf]").content;
const editor = document.getElementById("yaml");
const gutter = document.getElementById("gutter");
const problemList = document.getElementById("problems");
const checkStatus = document.getElementById("check-status");
const previewBox = document.getElementById("preview-result");
const saved = document.getElementById("saved");
const CHECK_DELAY_MS = 400;
let marks = new Map();
let lineCount = 0;
let timer = null;
let checks = 0;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function link(href, text) {
  const anchor = element("a", "", text);
  anchor.href = href;
  return anchor;
}

async function send(path, text) {
  try {
    const answer = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text }),
    });
    const body = await answer.json().catch(() => null);
    return { ok: answer.ok, status: answer.status, body };
  } catch {
    return { ok: false, status: "no answer", body: null };
  }
}

function lineHeight() {
  return parseFloat(getComputedStyle(editor).lineHeight) || 20;
}

function renderGutter() {
  lineCount = editor.value.split("\n").length;
  const rows = document.createDocumentFragment();
  for (let n = 1; n <= lineCount; n++) {
    const row = element("div", "", String(n));
    row.dataset.line = String(n);
    if (marks.has(n)) {
      row.className = "bad";
      row.title = marks.get(n);
      row.addEventListener("click", () => goToLine(n));
    }
    rows.append(row);
  }
  gutter.replaceChildren(rows);
  gutter.scrollTop = editor.scrollTop;
}

function goToLine(line) {
  const lines = editor.value.split("\n");
  const target = Math.min(Math.max(line, 1), lines.length);
  let start = 0;
  for (let i = 0; i < target - 1; i++) start += lines[i].length + 1;
  editor.focus();
  editor.setSelectionRange(start, start + lines[target - 1].length);
  editor.scrollTop = Math.max(0, (target - 3) * lineHeight());
  gutter.scrollTop = editor.scrollTop;
}

function describe({ line, field, message }) {
  return [line > 0 ? `line ${line}` : "", field, message].filter(Boolean).join(": ");
}

function showProblems(found) {
  const problems = [...found].sort((a, b) => a.line - b.line);
  marks = new Map();
  for (const problem of problems) {
    if (problem.line > 0) {
      const before = marks.get(problem.line);
      marks.set(problem.line, before ? `${before}\n${describe(problem)}` : describe(problem));
    }
  }
  renderGutter();
  problemList.replaceChildren();
  for (const problem of problems) {
    const item = element("li");
    if (problem.line > 0) {
      const button = element("button", "", describe(problem));
      button.type = "button";
      button.dataset.line = String(problem.line);
      button.addEventListener("click", () => goToLine(problem.line));
      item.append(button);
    } else {
      item.textContent = describe(problem);
    }
    problemList.append(item);
  }
  const count = problems.length;
  checkStatus.className = count ? "bad" : "ok";
  checkStatus.textContent = count
    ? `${count} problem${count === 1 ? "" : "s"}`
    : "No problems: botkit characters check accepts it.";
}

async function check() {
  clearTimeout(timer);
  const ticket = ++checks;
  checkStatus.className = "";
  checkStatus.textContent = "checking…";
  const { status, body } = await send("/api/characters/check", editor.value);
  if (ticket !== checks) return; // a newer check is under way
  if (body && Array.isArray(body.problems)) {
    showProblems(body.problems);
  } else {
    showProblems([{ line: 0, field: "", message: `not checked (${status})` }]);
  }
}

function tokenTable(tokens) {
  const table = element("table");
  for (const [part, count] of Object.entries(tokens)) {
    const row = element("tr");
    row.append(element("td", "", part), element("td", "", String(count)));
    table.append(row);
  }
  return table;
}

async function preview() {
  previewBox.replaceChildren(element("p", "mode", "building the prompt…"));
  const { status, body } = await send("/api/characters/preview", editor.value);
  previewBox.replaceChildren();
  if (body && Array.isArray(body.problems)) {
    showProblems(body.problems);
    previewBox.append(element("p", "bad", "Fix the problems first."));
    return;
  }
  if (!body || !Array.isArray(body.prompt)) {
    previewBox.append(element("p", "bad", `No preview (${status}).`));
    return;
  }
  for (const message of body.prompt) {
    const box = element("div", "message");
    box.append(element("div", "role", message.role), element("pre", "", message.content));
    previewBox.append(box);
  }
  previewBox.append(element("h4", "", "Tokens"), tokenTable(body.tokens));
}

async function save() {
  saved.replaceChildren(element("span", "", "saving…"));
  const { ok, status, body } = await send("/api/characters", editor.value);
  if (ok && body && body.id) {
    saved.replaceChildren(
      element("span", "ok", `saved as ${body.id}`),
      " · ",
      link(`/characters/${encodeURIComponent(body.id)}`, "open it"),
      " · ",
      link("/", "back to the rooms"),
    );
    return;
  }
  const lines = body && Array.isArray(body.problems) ? body.problems : [`refused (${status})`];
  const list = element("ul", "problems");
  for (const line of lines) list.append(element("li", "bad", line));
  saved.replaceChildren(element("span", "bad", "not saved:"), list);
  check();
}

async function download(anchor) {
  saved.replaceChildren(element("span", "", `exporting ${anchor.dataset.format}…`));
  let answer;
  try {
    answer = await fetch(anchor.href);
  } catch {
    saved.replaceChildren(element("span", "bad", "not exported: no answer"));
    return;
  }
  if (!answer.ok) {
    const body = await answer.json().catch(() => null);
    const why = body && body.error ? body.error : `refused (${answer.status})`;
    saved.replaceChildren(element("span", "bad", `not exported: ${why}`));
    return;
  }
  const named = /filename="([^"]+)"/.exec(answer.headers.get("Content-Disposition") || "");
  const url = URL.createObjectURL(await answer.blob());
  const file = element("a");
  file.href = url;
  file.download = named ? named[1] : `character.${anchor.dataset.format}`;
  document.body.append(file);
  file.click();
  file.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  saved.replaceChildren(element("span", "ok", `exported ${file.download}`));
}

editor.addEventListener("input", () => {
  if (editor.value.split("\n").length !== lineCount) renderGutter();
  clearTimeout(timer);
  timer = setTimeout(check, CHECK_DELAY_MS);
});
editor.addEventListener("scroll", () => {
  gutter.scrollTop = editor.scrollTop;
});
document.getElementById("check").addEventListener("click", check);
document.getElementById("preview").addEventListener("click", preview);
document.getElementById("save").addEventListener("click", save);
for (const anchor of document.querySelectorAll("#export a[data-format]")) {
  anchor.addEventListener("click", (event) => {
    event.preventDefault();
    download(anchor);
  });
}

renderGutter();
check();
