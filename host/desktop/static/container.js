// A container's page: tabs, the log viewer (follow, search, pause, copy, clear, ANSI colours,
// bounded buffer) and the terminal (xterm.js over a WebSocket).
"use strict";

const MAX_LINES = 5000;
const section = document.getElementById("tab-logs");
const containerId = section.dataset.container;
let terminalStarted = false;

for (const tab of document.querySelectorAll(".tabs button")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tabs button")) t.classList.toggle("active", t === tab);
    for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === `tab-${tab.dataset.tab}`);
    if (tab.dataset.tab === "terminal" && !terminalStarted) { terminalStarted = true; startTerminal(); }
  });
}

// -- logs ------------------------------------------------------------------------------------
const logs = document.getElementById("logs");
const search = document.getElementById("log-search");
const pauseButton = document.getElementById("log-pause");
document.getElementById("log-limit").textContent = MAX_LINES.toLocaleString();
let paused = false;
let held = [];        // chunks that arrived while paused
let partial = ["", 1]; // the unfinished last line and its stream
let pending = [];     // lines waiting for the next animation frame
let scheduled = false;
let received = 0;     // lines taken since the page opened (benchmarks read it)

const ESC = /\x1b\[([0-9;]*)m/g;
function ansiToNodes(text, stream) {
  const line = document.createElement("div");
  if (stream === 2) line.className = "err";
  let classes = [];
  let last = 0;
  const push = (s) => {
    if (!s) return;
    if (classes.length) { const span = document.createElement("span"); span.className = classes.join(" "); span.textContent = s; line.append(span); }
    else line.append(s);
  };
  for (const m of text.matchAll(ESC)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1 || code === 3 || code === 4) classes.push(`ansi-${code}`);
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) { classes = classes.filter((c) => !c.startsWith("fg-")); classes.push(`fg-${code}`); }
      else if (code === 39) classes = classes.filter((c) => !c.startsWith("fg-"));
    }
  }
  push(text.slice(last).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""));
  line.dataset.text = line.textContent;
  return line;
}

function applySearch(lines) {
  const word = search.value.trim().toLowerCase();
  let matches = 0;
  for (const line of lines) {
    const text = line.dataset.text.toLowerCase();
    const hit = !word || text.includes(word);
    line.classList.toggle("hidden", !hit);
    if (line.dataset.marked) { line.replaceChildren(...line._plain); delete line.dataset.marked; }
    if (word && hit) {
      matches++;
      line._plain = [...line.childNodes];
      const raw = line.dataset.text;
      const parts = [];
      let at = 0;
      const lower = raw.toLowerCase();
      for (let i = lower.indexOf(word); i !== -1; i = lower.indexOf(word, i + word.length)) {
        parts.push(raw.slice(at, i));
        const mark = document.createElement("mark"); mark.textContent = raw.slice(i, i + word.length); parts.push(mark);
        at = i + word.length;
      }
      parts.push(raw.slice(at));
      line.replaceChildren(...parts);
      line.dataset.marked = "1";
    }
  }
  return matches;
}

function flush() {
  scheduled = false;
  if (paused) return;  // what was queued stays queued until Resume
  const atBottom = logs.scrollHeight - logs.scrollTop - logs.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  const nodes = pending.map(([text, stream]) => ansiToNodes(text, stream));
  pending = [];
  if (search.value.trim()) applySearch(nodes);
  fragment.append(...nodes);
  logs.append(fragment);
  let extra = logs.childElementCount - MAX_LINES;
  while (extra-- > 0) logs.firstElementChild.remove();
  logs.dataset.lines = logs.childElementCount;
  logs.dataset.received = received;
  if (search.value.trim()) document.getElementById("log-matches").textContent = `${logs.querySelectorAll("div:not(.hidden)").length} matching`;
  if (atBottom) logs.scrollTop = logs.scrollHeight;
}

function take(chunks) {
  for (const [stream, text] of chunks) {
    const pieces = text.split("\n");
    pieces[0] = (partial[1] === stream ? partial[0] : "") + pieces[0];
    partial = [pieces.pop(), stream];
    for (const piece of pieces) pending.push([piece.replace(/\r$/, ""), stream]);
    received += pieces.length;
  }
  if (pending.length > MAX_LINES) pending = pending.slice(-MAX_LINES);
  if (!scheduled && pending.length) { scheduled = true; requestAnimationFrame(flush); }
}

pauseButton.addEventListener("click", () => {
  paused = !paused;
  pauseButton.textContent = paused ? "Resume" : "Pause";
  pauseButton.classList.toggle("primary", paused);
  if (!paused) {
    take(held);
    held = [];
    if (!scheduled && pending.length) { scheduled = true; requestAnimationFrame(flush); }
  }
});
document.getElementById("log-clear").addEventListener("click", () => { logs.replaceChildren(); held = []; pending = []; });
document.getElementById("log-copy").addEventListener("click", async () => {
  const text = [...logs.children].filter((l) => !l.classList.contains("hidden")).map((l) => l.dataset.text).join("\n");
  try { await navigator.clipboard.writeText(text); } catch (_) {
    const area = document.createElement("textarea"); area.value = text; document.body.append(area); area.select(); document.execCommand("copy"); area.remove();
  }
});
search.addEventListener("input", () => {
  const matches = applySearch(logs.children);
  document.getElementById("log-matches").textContent = search.value.trim() ? `${matches} matching` : "";
});

// -- the page's one live stream: state, engine, logs, usage ---------------------------------
// Closed while the page is hidden (no stats for what is not on screen), reopened when shown
// with the logs since it closed.
const usage = document.getElementById("usage");
const state = document.getElementById("state");
let source = null;
let closedAt = null;

function connect() {
  const query = closedAt ? `?since=${closedAt}` : "";
  source = new EventSource(`/live/containers/${containerId}${query}`);
  source.addEventListener("hello", () => { document.body.dataset.live = "1"; });
  source.addEventListener("engine", (e) => htmx.swap("#engine-slot", e.data, { swapStyle: "innerHTML" }));
  source.addEventListener("state", (e) => htmx.swap(state, e.data, { swapStyle: "innerHTML" }));
  source.addEventListener("usage", (e) => { usage.innerHTML = e.data; });
  source.addEventListener("logs", (e) => {
    const chunks = JSON.parse(e.data);
    if (paused) held.push(...chunks); else take(chunks);
  });
  source.addEventListener("logs-end", () => { logs.dataset.ended = "1"; });
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden && source) {
    source.close();
    source = null;
    closedAt = (Date.now() / 1000).toFixed(6);
    delete document.body.dataset.live;
  } else if (!document.hidden && !source) {
    connect();
  }
});
connect();

// -- terminal --------------------------------------------------------------------------------
function startTerminal() {
  const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'ui-monospace, Menlo, "DejaVu Sans Mono", monospace', theme: { background: "#0d1117" } });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById("terminal"));
  fit.fit();
  const ws = new WebSocket(`ws://${location.host}/containers/${containerId}/terminal?cols=${term.cols}&rows=${term.rows}`);
  ws.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  ws.onmessage = (e) => term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
  ws.onopen = () => { document.getElementById("terminal").dataset.connected = "1"; term.focus(); };
  ws.onclose = () => term.write("\r\n\x1b[90m[the session ended]\x1b[0m\r\n");
  term.onData((data) => { if (ws.readyState === 1) ws.send(encoder.encode(data)); });
  term.onResize(({ cols, rows }) => { if (ws.readyState === 1) ws.send(JSON.stringify({ resize: [cols, rows] })); });
  window.addEventListener("resize", () => fit.fit());
  window.ketchTerminal = term;
}
