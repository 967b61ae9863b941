// botkit playground, evals page: choose a file of the evals folder (or upload one) and an
// evaluation, run it, and show its chart and table. The chart is SVG the server built with
// every name escaped; everything else is set as text.
"use strict";

const csrf = document.querySelector("meta[name=csrf]").content;
const form = document.getElementById("run-form");
const files = document.getElementById("files");
const noFiles = document.getElementById("no-files");
const upload = document.getElementById("upload");
const policies = document.getElementById("policies");
const runButton = document.getElementById("run");
const status = document.getElementById("status");
const error = document.getElementById("error");
const result = document.getElementById("result");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(text) {
  error.textContent = text;
  error.hidden = !text;
}

async function problem(response) {
  try {
    return (await response.json()).error || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// Only the evaluations a file can hold may be chosen; policies only for turns.
function fitChoices() {
  const chosen = form.querySelector("input[name=file]:checked");
  const kinds = chosen ? chosen.dataset.kinds.split(" ") : ["turns", "memory"];
  for (const kind of form.querySelectorAll("input[name=kind]")) {
    kind.disabled = !kinds.includes(kind.value);
  }
  if (form.querySelector("input[name=kind]:checked:disabled")) {
    form.querySelector("input[name=kind]:not(:disabled)").checked = true;
  }
  policies.disabled = form.querySelector("input[name=kind]:checked").value !== "turns";
}

function showFiles(list, chosen) {
  files.replaceChildren();
  for (const file of list) {
    const item = element("li");
    const label = element("label");
    const input = element("input");
    input.type = "radio";
    input.name = "file";
    input.value = file.name;
    input.dataset.kinds = file.kinds.join(" ");
    input.checked = file.name === chosen;
    label.append(input, ` ${file.name}`);
    item.append(label, " ", element("span", "size", file.size));
    files.append(item);
  }
  noFiles.hidden = list.length > 0;
  fitChoices();
}

function cell(value, unit) {
  if (unit === "text") return value;
  if (value === null || value === undefined) return "n/a";
  if (unit === "percent") return `${(value * 100).toFixed(1)}%`;
  if (unit === "ratio") return value.toFixed(3);
  return value.toFixed(2);
}

function showResult(answer) {
  document.getElementById("summary").textContent = answer.summary;
  // The SVG comes from botkit.evaluation.charts, which escapes every name it draws.
  document.getElementById("chart").innerHTML = answer.svg;
  const head = element("tr");
  for (const column of answer.columns) head.append(element("th", "", column.label));
  const rows = answer.table.map((row) => {
    const line = element("tr", row.baseline ? "baseline" : "");
    line.dataset.name = row.name;
    for (const column of answer.columns) {
      const text = cell(row[column.key], column.unit);
      // A baseline is marked as the charts mark it: unless its name says so already.
      const marked = column.key === "name" && row.baseline && !/baseline/i.test(text);
      const shown = marked ? `${text} (baseline)` : text;
      line.append(element("td", column.unit === "text" ? "" : "number", shown));
    }
    return line;
  });
  document.querySelector("#table thead").replaceChildren(head);
  document.querySelector("#table tbody").replaceChildren(...rows);
  result.hidden = false;
}

form.addEventListener("change", fitChoices);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = { file: data.get("file"), kind: data.get("kind") };
  if (!body.file) {
    showError("Choose a file first.");
    return;
  }
  if (body.kind === "turns") body.policies = data.getAll("policy");
  showError("");
  runButton.disabled = true;
  status.textContent = `running ${body.kind} on ${body.file}…`;
  try {
    const response = await fetch("/api/evals/run", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      showError(await problem(response));
      status.textContent = "";
      return;
    }
    showResult(await response.json());
    status.textContent = "done";
  } catch (failure) {
    showError(`the run failed: ${failure}`);
    status.textContent = "";
  } finally {
    runButton.disabled = false;
  }
});

upload.addEventListener("change", async () => {
  const file = upload.files[0];
  if (!file) return;
  const data = new FormData();
  data.append("file", file);
  showError("");
  status.textContent = `uploading ${file.name}…`;
  try {
    const response = await fetch("/api/evals/upload", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body: data,
    });
    if (!response.ok) {
      showError(await problem(response));
      status.textContent = "";
      return;
    }
    const answer = await response.json();
    showFiles(answer.files, answer.name);
    status.textContent = `uploaded ${answer.name}`;
  } catch (failure) {
    showError(`the upload failed: ${failure}`);
    status.textContent = "";
  } finally {
    upload.value = "";
  }
});

fitChoices();
