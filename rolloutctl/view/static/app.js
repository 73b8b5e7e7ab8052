// rolloutctl view: the pages, built with DOM calls only. Data from the server is only ever
// set as text (text nodes, textContent), never parsed as HTML, so model output stays inert.
"use strict";

const LONG_CHARS = 700;
const LONG_LINES = 12;
const POLL_MS = 1500;
let poller = null;

// ---- DOM helpers ----------------------------------------------------------------------
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces a node's children; like h(), it takes nested arrays and skips null.
function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// An internal link: the href is built here from our own route pieces, never from data.
function link(path, ...children) {
  return h("a", { href: path, "data-nav": true }, ...children);
}

function enc(value) { return encodeURIComponent(String(value)); }
function runPath(key) { return `/run/${enc(key)}`; }
function rolloutPath(key, row, epoch) { return `${runPath(key)}/row/${enc(row)}/${enc(epoch)}`; }

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}
function pct(value) { return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`; }
function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

function longText(text, cls = "") {
  const value = text === null || text === undefined ? "" : String(text);
  const body = h("div", { class: `text ${cls}` }, value);
  const lines = value.split("\n").length;
  if (value.length <= LONG_CHARS && lines <= LONG_LINES) return body;
  const box = h("div", { class: "collapsible collapsed" }, body);
  const label = () => box.classList.contains("collapsed")
    ? `Show all (${value.length.toLocaleString()} characters, ${lines} lines)` : "Show less";
  const button = h("button", { class: "expander", type: "button" });
  button.textContent = label();
  button.addEventListener("click", () => { box.classList.toggle("collapsed"); button.textContent = label(); });
  box.append(button);
  return box;
}

function json(value) { return longText(JSON.stringify(value, null, 2)); }

function card(label, value, sub) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label),
    h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : fmt(v))]));
}

function histogram(title, hist, label) {
  const panel = h("div", { class: "panel" }, h("h3", {}, title));
  if (!hist) { panel.append(h("p", { class: "muted" }, "no values")); return panel; }
  const most = Math.max(...hist.bars.map((b) => b.count), 1);
  panel.append(h("div", { class: "hist" }, hist.bars.map((bar) => h("div", { class: "bar" },
    h("span", {}, bar.from === bar.to ? label(bar.from) : `${label(bar.from)} – ${label(bar.to)}`),
    h("div", { class: "fill", style: null, "data-w": bar.count }),
    h("span", { class: "count" }, bar.count.toLocaleString())))));
  for (const fill of panel.querySelectorAll(".fill")) fill.style.width = `${(100 * fill.dataset.w) / most}%`;
  return panel;
}

// ---- data, routing, live updates -------------------------------------------------------
async function api(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || body.detail || `${response.status} ${response.statusText}`);
  return body;
}

function go(url, replace = false) {
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  route();
}

function setQuery(params, replace = true) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined && v !== false) query.set(k, v);
  const text = query.toString();
  history[replace ? "replaceState" : "pushState"](null, "", location.pathname + (text ? `?${text}` : ""));
}

function crumbs(...items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...items.map(([text, path]) => (path ? link(path, text) : h("span", {}, text))));
}

function setLive(text) {
  const live = document.getElementById("live");
  live.textContent = text || "";
  live.className = text ? "on" : "";
}

function watch(key, version, onChange) {
  stopWatching();
  const timer = { key, version, stopped: false };
  poller = timer;
  const tick = async () => {
    if (timer.stopped) return;
    try {
      const state = await api(`/api/runs/${enc(key)}/state`);
      setLive(state.in_progress ? `in progress · ${state.rollouts.toLocaleString()} rollouts` : "");
      if (state.version !== timer.version) { timer.version = state.version; await onChange(state); }
    } catch (error) { /* the next tick tries again */ }
    if (!timer.stopped) timer.handle = setTimeout(tick, POLL_MS);
  };
  timer.handle = setTimeout(tick, POLL_MS);
}

function stopWatching() {
  if (poller) { poller.stopped = true; clearTimeout(poller.handle); poller = null; }
  setLive("");
}

const ROUTES = [
  [/^\/$/, () => runsPage()],
  [/^\/run\/([^/]+)$/, (m) => runPage(decodeURIComponent(m[1]))],
  [/^\/run\/([^/]+)\/row\/(\d+)(?:\/(\d+))?$/, (m) => rolloutPage(decodeURIComponent(m[1]), +m[2], +(m[3] || 0))],
  [/^\/compare$/, () => comparePage()],
  [/^\/trajectory\/([^/]+)$/, (m) => trajectoryPage(decodeURIComponent(m[1]))],
];

async function route() {
  stopWatching();
  const main = document.getElementById("main");
  for (const [pattern, render] of ROUTES) {
    const match = location.pathname.match(pattern);
    if (!match) continue;
    try { await render(match); } catch (error) { showError(main, error); }
    return;
  }
  showError(main, new Error("no such page"));
}

function showError(main, error) {
  fill(main, h("p", { class: "bad" }, `Error: ${error.message}`), link("/", "All runs"));
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest && event.target.closest("a[data-nav]");
  if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(anchor.getAttribute("href"));
});
window.addEventListener("popstate", route);
