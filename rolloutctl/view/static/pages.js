// rolloutctl view: the runs list, the run page with its rows table, and the compare page.
"use strict";

async function runsPage() {
  document.title = "rolloutctl view";
  crumbs();
  const main = document.getElementById("main");
  const data = await api("/api/runs");
  const rows = data.runs.map((run) => h("tr", {},
    h("td", {}, link(runPath(run.slug), run.name), run.in_progress ? h("span", { class: "chip" }, "in progress") : null),
    h("td", {}, fmt(run.agent)), h("td", {}, fmt(run.dataset)), h("td", {}, fmt(run.date)),
    h("td", { class: "num" }, run.rows.toLocaleString()), h("td", { class: "num" }, pct(run.pass_rate)),
    h("td", { class: "num" }, fmt(run.mean_reward)), h("td", { class: `num ${run.errors ? "bad" : ""}` }, run.errors)));
  const head = ["run", "agent", "dataset", "date", "rows", "pass rate", "mean reward", "errors"];
  fill(main, 
    h("h1", {}, "Runs"),
    data.runs.length ? h("table", { id: "runs" }, h("thead", {}, h("tr", {}, head.map((t) => h("th", {}, t)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No eval runs under the given paths."),
    data.runs.length > 1 ? compareForm(data.runs) : null,
    data.files.length ? [h("h2", {}, "Trajectory files"),
      h("ul", { id: "files" }, data.files.map((f) => h("li", {}, link(`/trajectory/${enc(f.slug)}`, f.name))))] : null);
  if (data.runs.some((run) => run.in_progress)) setTimeout(() => location.pathname === "/" && !poller && runsPage(), 3000);
}

function compareForm(runs) {
  const choice = (name, selected) => h("select", { name, id: `compare-${name}` },
    runs.map((run, i) => h("option", { value: run.slug, selected: i === selected }, run.name)));
  const a = choice("a", 1), b = choice("b", 0);
  return [h("h2", {}, "Compare two runs"), h("div", { class: "filters" },
    h("label", {}, "A (before)", a), h("label", {}, "B (after)", b),
    h("button", { type: "button", id: "compare-go", onclick: () => go(`/compare?a=${enc(a.value)}&b=${enc(b.value)}`) }, "Compare"))];
}

// ---- the run page ----------------------------------------------------------------------
async function runPage(key) {
  const main = document.getElementById("main");
  const run = await api(`/api/runs/${enc(key)}`);
  document.title = `${run.name} · rolloutctl view`;
  crumbs([run.name, null]);
  const table = h("section", { id: "rows-section" });
  const summary = h("section", { id: "summary" }, summaryView(run));
  fill(main, h("h1", {}, run.name), summary, h("h2", {}, "Rows"), table);
  const state = tableState(run);
  await rowsTable(key, run, table, state);
  watch(key, run.state.version, async () => {
    const fresh = await api(`/api/runs/${enc(key)}`);
    fill(summary, summaryView(fresh));
    await rowsTable(key, fresh, table, state);
  });
}

function summaryView(run) {
  const s = run.summary, pass = s.pass, reward = s.reward;
  const progress = run.state.in_progress
    ? h("div", { class: "banner", id: "in-progress" }, `In progress: ${s.rollouts.toLocaleString()} rollouts so far; this page updates as rows land.`)
    : run.state.interrupted ? h("div", { class: "banner" }, "This run was interrupted; resume it with eval --resume.") : null;
  return [progress,
    h("div", { class: "cards" },
      card("rollouts", s.rollouts.toLocaleString(), `${s.rows.toLocaleString()} rows · epochs ${s.epochs.join(", ") || "–"}`),
      card("pass rate", pass ? pct(pass.pass_rate) : "–", pass && pass.pass_rate_ci95 ? `95% CI ${pct(pass.pass_rate_ci95[0])} – ${pct(pass.pass_rate_ci95[1])} (Wilson)` : "rewards not all 0 or 1"),
      passCard(pass),
      card("mean reward", reward ? fmt(reward.mean) : "–", reward ? `95% CI ${fmt(reward.ci95[0])} – ${fmt(reward.ci95[1])}` : null),
      card("latency p50", ms(s.latency_ms.p50), `p95 ${ms(s.latency_ms.p95)} · p99 ${ms(s.latency_ms.p99)} · max ${ms(s.latency_ms.max)}`),
      card("tokens / rollout", fmt(s.tokens_per_rollout, 1), `LLM calls / rollout ${fmt(s.llm_calls_per_rollout, 2)}`),
      card("violations", s.violations, null)),
    h("div", { class: "grid2" },
      histogram("Reward", s.histograms.reward, (v) => fmt(v, 2)),
      histogram("Latency", s.histograms.latency_ms, (v) => ms(v)),
      histogram("Tokens per rollout", s.histograms.tokens, (v) => fmt(v, 0)),
      histogram("LLM calls per rollout", s.histograms.llm_calls, (v) => fmt(v, 1))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h3", {}, "Status"), counts(s.status), h("h3", {}, "Error categories"), counts(s.error_categories),
        h("h3", {}, "Finish reasons"), counts(s.finish_reasons)),
      failuresPanel(run.slug, s.failures)),
    h("details", { id: "config" }, h("summary", {}, "Config"), json(run.config)),
  ];
}

function passCard(pass) {
  const entries = pass ? Object.entries(pass.pass_at_k) : [];
  if (!entries.length) return card("pass@k", "–", null);
  const [k, value] = entries[entries.length - 1];
  return card(`pass@${k}`, pct(value), entries.map(([n, v]) => `pass@${n} ${pct(v)}`).join(" · "));
}

function counts(map) {
  const entries = Object.entries(map || {});
  return entries.length ? h("div", {}, entries.map(([k, v]) => h("span", { class: `chip status-${k}` }, `${k} ${v.toLocaleString()}`)))
    : h("p", { class: "muted" }, "none");
}

function failuresPanel(key, groups) {
  const panel = h("div", { class: "panel", id: "failures" }, h("h3", {}, "Failures by category"));
  if (!groups.length) { panel.append(h("p", { class: "muted" }, "no failures")); return panel; }
  for (const group of groups) {
    panel.append(h("div", { class: "group" }, h("b", { class: "bad" }, `${group.category} `), h("span", { class: "muted" }, `${group.count.toLocaleString()} rollouts`),
      h("ul", {}, group.messages.map((m) => h("li", {}, h("span", {}, m.message || "(no message)"), ` ×${m.count} `,
        m.examples.map(([row, epoch]) => [link(rolloutPath(key, row, epoch), `row ${row}${epoch ? `:${epoch}` : ""}`), " "]))))));
  }
  return panel;
}

// ---- the rows table ----------------------------------------------------------------------
const FILTERS = ["status", "category", "epoch", "min_reward", "max_reward", "q", "failed"];
const COLUMNS = [["row", "row"], ["epoch", "epoch"], ["status", "status"], [null, "failure"], ["reward", "reward"],
  ["latency", "latency"], ["tokens", "tokens"], ["llm_calls", "LLM calls"], ["violations", "violations"], [null, "prompt"], [null, "answer"]];

function tableState() {
  const params = new URLSearchParams(location.search);
  const state = { sort: params.get("sort") || "row", order: params.get("order") || "asc", page: +(params.get("page") || 1) };
  for (const name of FILTERS) state[name] = params.get(name) || "";
  return state;
}

async function rowsTable(key, run, section, state) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v !== "" && v !== null) query.set(k, v);
  const ticket = (section.ticket = (section.ticket || 0) + 1);
  const data = await api(`/api/runs/${enc(key)}/rows?${query}`);
  if (ticket !== section.ticket) return; // a later request owns the table now
  const reload = (changes) => { Object.assign(state, changes); setQuery(state); rowsTable(key, run, section, state); };
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const focused = section.contains(document.activeElement) ? document.activeElement.name : "";
  fill(section, filtersForm(run, state, reload),
    h("div", { class: "pager" }, h("span", { id: "rows-total" }, `${data.total.toLocaleString()} rollouts match`),
      h("button", { type: "button", id: "prev-page", disabled: state.page <= 1, onclick: () => reload({ page: state.page - 1 }) }, "‹ previous"),
      h("span", { id: "page-label" }, `page ${state.page} of ${pages}`),
      h("button", { type: "button", id: "next-page", disabled: state.page >= pages, onclick: () => reload({ page: state.page + 1 }) }, "next ›")),
    h("table", { id: "rows" }, h("thead", {}, h("tr", {}, COLUMNS.map(([sort, label]) => header(sort, label, state, reload)))),
      h("tbody", {}, data.rows.map((row) => rowLine(key, row)))));
  if (focused) section.querySelector(`#filters [name="${focused}"]`)?.focus(); // typing goes on
}

function header(sort, label, state, reload) {
  if (!sort) return h("th", {}, label);
  const sorted = state.sort === sort ? ` sorted-${state.order}` : "";
  const order = state.sort === sort && state.order === "asc" ? "desc" : "asc";
  return h("th", { class: `sortable${sorted}`, "data-sort": sort, onclick: () => reload({ sort, order, page: 1 }) }, label);
}

function rowLine(key, row) {
  return h("tr", { "data-row": row.row, "data-epoch": row.epoch },
    h("td", { class: "num" }, link(rolloutPath(key, row.row, row.epoch), String(row.row))),
    h("td", { class: "num" }, row.epoch), h("td", { class: `status-${row.status}` }, row.status),
    h("td", { class: "bad" }, row.failure || ""), h("td", { class: "num" }, fmt(row.reward)),
    h("td", { class: "num" }, ms(row.latency_ms)), h("td", { class: "num" }, row.tokens),
    h("td", { class: "num" }, row.llm_calls), h("td", { class: `num ${row.violations ? "bad" : ""}` }, row.violations),
    h("td", { class: "excerpt", title: row.prompt }, row.prompt), h("td", { class: "excerpt", title: row.answer }, row.answer));
}

function filtersForm(run, state, reload) {
  const s = run.summary;
  const select = (name, label, values) => h("label", {}, label, h("select", { name, onchange: (e) => reload({ [name]: e.target.value, page: 1 }) },
    h("option", { value: "" }, "any"), values.map((v) => h("option", { value: v, selected: String(state[name]) === String(v) }, String(v)))));
  // What is typed is kept in `state` at once, so a table that an earlier change redraws
  // meanwhile shows it still; the table reloads on change (Enter, or leaving the field).
  const typed = (e) => { state[e.target.name] = e.target.value; };
  const number = (name, label) => h("label", {}, label, h("input", { type: "number", step: "any", name, value: state[name],
    oninput: typed, onchange: (e) => reload({ [name]: e.target.value, page: 1 }) }));
  const search = h("input", { type: "search", name: "q", placeholder: "text in prompt or answer", value: state.q, oninput: typed });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") reload({ q: search.value, page: 1 }); });
  search.addEventListener("search", () => reload({ q: search.value, page: 1 }));
  const categories = s.failures.map((g) => g.category);
  return h("div", { class: "filters", id: "filters" },
    select("status", "status", Object.keys(s.status)), select("category", "failure category", categories),
    select("epoch", "epoch", s.epochs), number("min_reward", "reward ≥"), number("max_reward", "reward ≤"),
    h("label", {}, "search", search),
    h("label", {}, "failures only", h("input", { type: "checkbox", name: "failed", checked: state.failed === "1",
      onchange: (e) => reload({ failed: e.target.checked ? "1" : "", page: 1 }) })));
}

// ---- compare ----------------------------------------------------------------------------
async function comparePage() {
  const params = new URLSearchParams(location.search);
  const state = { a: params.get("a") || "", b: params.get("b") || "", changed: params.get("changed") || "",
    page: +(params.get("page") || 1), row: params.get("row") || "", epoch: params.get("epoch") || "" };
  const main = document.getElementById("main");
  const data = await api(`/api/compare?a=${enc(state.a)}&b=${enc(state.b)}&changed=${enc(state.changed)}&page=${state.page}`);
  document.title = `compare ${data.a.name} / ${data.b.name} · rolloutctl view`;
  crumbs([`compare ${data.a.name} ↔ ${data.b.name}`, null]);
  const reload = (changes) => { Object.assign(state, changes); setQuery(state, false); route(); };
  const c = data.counts;
  const pages = Math.max(1, Math.ceil(data.total / 50));
  const side = h("section", { id: "side-by-side" });
  fill(main, h("h1", {}, "Compare runs"),
    kv([["A", link(runPath(data.a.slug), data.a.name)], ["B", link(runPath(data.b.slug), data.b.name)]]),
    data.same_dataset ? null : h("div", { class: "banner" }, "These runs were made over different datasets: rows are aligned by number."),
    h("div", { class: "cards", id: "compare-counts" }, card("fixed", c.fixed, "failed in A, pass in B"), card("broken", c.broken, "passed in A, fail in B"),
      card("changed", c.changed, "other status or reward"), card("unchanged", c.unchanged, null), card("missing", c.missing, "in one run only")),
    h("div", { class: "filters" }, h("label", {}, "only changed rows", h("input", { type: "checkbox", id: "only-changed", checked: state.changed === "1",
      onchange: (e) => reload({ changed: e.target.checked ? "1" : "", page: 1 }) })),
      h("span", { id: "compare-total" }, `${data.total.toLocaleString()} rows`),
      h("button", { type: "button", disabled: state.page <= 1, onclick: () => reload({ page: state.page - 1 }) }, "‹ previous"),
      h("span", {}, `page ${state.page} of ${pages}`),
      h("button", { type: "button", disabled: state.page >= pages, onclick: () => reload({ page: state.page + 1 }) }, "next ›")),
    side,
    h("table", { id: "compare-rows" }, h("thead", {}, h("tr", {}, ["row", "epoch", "change", "A status", "A reward", "B status", "B reward", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.rows.map((r) => h("tr", { "data-row": r.row, "data-change": r.change },
        h("td", { class: "num" }, r.row), h("td", { class: "num" }, r.epoch), h("td", { class: `change-${r.change}` }, r.change),
        h("td", { class: r.a ? `status-${r.a.status}` : "" }, r.a ? r.a.status : "–"), h("td", { class: "num" }, r.a ? fmt(r.a.reward) : "–"),
        h("td", { class: r.b ? `status-${r.b.status}` : "" }, r.b ? r.b.status : "–"), h("td", { class: "num" }, r.b ? fmt(r.b.reward) : "–"),
        h("td", {}, h("button", { type: "button", class: "open-pair", onclick: () => reload({ row: r.row, epoch: r.epoch }) }, "side by side")))))));
  if (state.row !== "") await sideBySide(side, data, +state.row, +(state.epoch || 0));
}

async function sideBySide(section, data, row, epoch) {
  const load = (key) => api(`/api/runs/${enc(key)}/rollouts/${row}/${epoch}`).catch((error) => ({ missing: error.message }));
  const [a, b] = await Promise.all([load(data.a.slug), load(data.b.slug)]);
  const column = (name, key, view) => h("div", { class: "panel" }, h("h2", {}, `${name}: `, link(rolloutPath(key, row, epoch), `row ${row} epoch ${epoch}`)),
    view.missing ? h("p", { class: "muted" }, view.missing) : rolloutBody(view));
  fill(section, h("h2", {}, `Row ${row}, epoch ${epoch}`),
    h("div", { class: "side-by-side" }, column(`A ${data.a.name}`, data.a.slug, a), column(`B ${data.b.name}`, data.b.slug, b)));
}
