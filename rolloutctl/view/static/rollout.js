// rolloutctl view: one rollout, turn by turn, each tool call beside its result.
"use strict";

async function rolloutPage(key, row, epoch) {
  const main = document.getElementById("main");
  const view = await api(`/api/runs/${enc(key)}/rollouts/${row}/${epoch}`);
  document.title = `${view.run.name} row ${row} · rolloutctl view`;
  crumbs([view.run.name, runPath(key)], [`row ${row} epoch ${epoch}`, null]);
  const nav = view.nav;
  const step = (label, target) => (target ? link(rolloutPath(key, target[0], target[1]), label) : h("span", {}, label));
  const bar = h("div", { class: "navbar", id: "rollout-nav" },
    link(runPath(key), "← run"),
    withId(step("‹ previous failure", nav.previous_failure), "prev-failure"),
    withId(step("‹ previous row", nav.previous), "prev-row"),
    withId(step("next row ›", nav.next), "next-row"),
    withId(step("next failure ›", nav.next_failure), "next-failure"));
  fill(main, h("h1", {}, `Row ${row}, epoch ${epoch}`, view.facts.id ? ` (${view.facts.id})` : ""), bar, rolloutBody(view));
  watch(key, null, async (state) => { if (state.in_progress) setLive(`in progress · ${state.rollouts.toLocaleString()} rollouts`); });
}

function withId(node, id) { node.id = id; return node; }

async function trajectoryPage(key) {
  const main = document.getElementById("main");
  const view = await api(`/api/trajectories/${enc(key)}`);
  document.title = `${view.file.name} · rolloutctl view`;
  crumbs([view.file.name, null]);
  fill(main, h("h1", {}, view.file.name), rolloutBody(view));
}

function rolloutBody(view) {
  const f = view.facts;
  const failed = Boolean(view.failure) || (f.status !== "COMPLETED" && f.status !== "success");
  return h("div", { class: "rollout" },
    h("div", { class: "cards" },
      card("status", h("span", { class: `status-${f.status}`, id: "rollout-status" }, f.status), view.failure ? `failure: ${view.failure}` : f.finish_reason ? `finish: ${f.finish_reason}` : null),
      card("reward", h("span", { id: "rollout-reward" }, fmt(f.reward)), view.grader && view.grader.ground_truth !== undefined && view.grader.ground_truth !== null ? `ground truth ${fmt(view.grader.ground_truth)}` : null),
      card("latency", ms(f.latency_ms !== undefined ? f.latency_ms : (f.metrics || {}).total_latency_ms), `${view.turns.length} turns · ${f.tool_calls ?? "?"} tool results`),
      card("tokens", fmt(((f.metrics || {}).prompt_tokens || 0) + ((f.metrics || {}).response_tokens || 0)), `${fmt((f.metrics || {}).num_llm_calls)} LLM calls`),
      card("violations", (f.violations || []).length, null)),
    f.error_message ? h("div", { class: "banner bad", id: "rollout-error" }, `${f.error_category || "error"}: `, f.error_message) : null,
    f.grader_error ? h("div", { class: "banner bad" }, "grader error: ", f.grader_error) : null,
    h("h2", {}, "Prompt"), h("div", { class: "panel", id: "prompt" }, longText(view.prompt)),
    h("h2", {}, "Turns"), h("div", { id: "turns" }, view.turns.length ? view.turns.map(turnView) : h("p", { class: "muted" }, "(no LLM call)")),
    view.final_messages.length ? [h("h2", {}, "After the last turn"), h("div", { class: "turn" }, view.final_messages.map(messageView))] : null,
    h("h2", {}, "Final answer"), h("div", { class: `panel answer ${failed ? "failed" : ""}`, id: "answer" }, longText(view.answer || "(no answer)")),
    h("h2", {}, "Reward and grading"), h("div", { class: "panel", id: "grading" }, kv([
      ["reward", f.reward], ["agent's reward", view.grader ? view.grader.agent_reward : undefined],
      ["ground truth", view.grader ? h("span", {}, JSON.stringify(view.grader.ground_truth ?? null)) : undefined],
      ["grader error", view.grader ? view.grader.error : undefined], ["finish reason", f.finish_reason], ["rollout id", f.rollout_id]])),
    violationsView(f.violations || []),
    h("h2", {}, "Metadata"), h("div", { class: "panel", id: "metadata" }, json(view.metadata)),
    h("details", { id: "completion" }, h("summary", {}, "Completion payload"), json(view.completion)));
}

function violationsView(violations) {
  if (!violations.length) return null;
  return [h("h2", {}, "Violations"), h("ul", { id: "violations", class: "panel bad" },
    violations.map((v) => h("li", {}, h("b", {}, `${v.rule || "rule"}: `), v.message || JSON.stringify(v))))];
}

function turnView(turn) {
  const usage = turn.usage || {};
  const tokens = usage.prompt_tokens !== undefined ? `${usage.prompt_tokens} + ${usage.completion_tokens} tokens` : "tokens –";
  return h("section", { class: "turn", "data-turn": turn.index },
    h("div", { class: "turn-head" }, h("b", {}, `Turn ${turn.index}`), h("span", {}, ms(turn.latency_ms)), h("span", {}, tokens),
      turn.finish_reason ? h("span", {}, `finish ${turn.finish_reason}`) : null,
      turn.failed_attempts.length ? h("span", { class: "bad" }, `${turn.failed_attempts.length} failed attempts`) : null),
    turn.messages.map(messageView),
    turn.reasoning ? h("div", { class: "msg" }, h("span", { class: "role" }, "reasoning"), longText(turn.reasoning)) : null,
    turn.reply === null ? h("p", { class: "bad" }, "no reply")
      : turn.reply || !turn.calls.length ? h("div", { class: "msg" }, h("span", { class: "role" }, "assistant"), longText(turn.reply || "(empty)")) : null,
    turn.calls.length ? h("table", { class: "calls" }, h("tbody", {}, turn.calls.map(callView))) : null);
}

function messageView(message) {
  return h("div", { class: `msg role-${message.role}` }, h("span", { class: "role" }, message.role), longText(message.content));
}

function callView(call) {
  return h("tr", { class: `call ${call.error ? "error" : ""}` },
    h("td", { class: "sig" }, h("span", { class: "tool-name" }, call.name), "(", h("span", { class: "tool-args" }, call.arguments), ")"),
    h("td", { class: "arrow" }, "→"),
    h("td", { class: "result" }, call.result === null ? h("span", { class: "muted" }, "(no result)") : longText(call.result)));
}

route();
