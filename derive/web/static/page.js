// The practice page: pick a network and a gradient, type LaTeX, see it as the grader reads it,
// check it. Everything comes from this server's API; MathML arrives escaped by the server and
// every other text is set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { network: null, wrt: null, previewSeq: 0, timer: null };
const PREVIEW_DELAY_MS = 300;
const saved = (key) => { try { return localStorage.getItem(key); } catch { return null; } };
const save = (key, value) => { try { localStorage.setItem(key, value); } catch { /* private mode */ } };

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Error("the server cannot be reached");
  }
  let data = null;
  try { data = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  if (!response.ok) {
    throw new Error((data && data.error) || `the server answered ${response.status}`);
  }
  return data;
}

function setMath(el, mathml) { el.innerHTML = mathml || ""; }

function element(tag, text, cls) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (cls) el.className = cls;
  return el;
}

function showProblem(el, message) {
  el.textContent = message || "";
  el.hidden = !message;
}

async function loadNetworks() {
  const data = await api("/api/networks");
  const select = $("network");
  select.replaceChildren(...data.networks.map((n) => {
    const option = element("option", n.title);
    option.value = n.id;
    return option;
  }));
  const last = saved("gradproof:network");
  if (last && data.networks.some((n) => n.id === last)) select.value = last;
  await loadNetwork(select.value);
}

async function loadNetwork(id) {
  const net = await api(`/api/networks/${encodeURIComponent(id)}`);
  state.network = net;
  save("gradproof:network", id);
  $("net-title").textContent = net.title;
  $("net-description").textContent = net.description || "";
  $("equations").replaceChildren(...net.equations.map((m) => {
    const div = element("div", undefined, "equation");
    setMath(div, m);
    return div;
  }));
  $("graph").src = net.graph;
  $("graph-link").href = net.graph;
  const rows = net.names.map((n) => {
    const tr = document.createElement("tr");
    const name = element("td");
    setMath(name, n.mathml);
    tr.append(name, element("td", n.role), element("td", n.shape));
    return tr;
  });
  $("shapes").tBodies[0].replaceChildren(...rows);
  $("dims").textContent = "Dims: " + Object.entries(net.dims).map(([k, v]) => `${k} = ${v}`).join(", ");
  const wrt = $("wrt");
  wrt.replaceChildren(...net.gradients.map((g) => {
    const option = element("option", `${g.wrt}  ${g.shape}`);
    option.value = g.wrt;
    return option;
  }));
  const last = saved(`gradproof:wrt:${id}`);
  if (last && net.gradients.some((g) => g.wrt === last)) wrt.value = last;
  selectGradient(wrt.value);
}

function answerKey() { return `gradproof:answer:${state.network.id}:${state.wrt}`; }

function selectGradient(wrt) {
  state.wrt = wrt;
  save(`gradproof:wrt:${state.network.id}`, wrt);
  const g = state.network.gradients.find((x) => x.wrt === wrt);
  setMath($("question"), g ? g.question : "");
  $("expected-shape").textContent = g ? `shape ${g.shape}` : "";
  $("answer").value = saved(answerKey()) || "";
  $("result").replaceChildren();
  $("explain").replaceChildren();
  schedulePreview(0);
}

function schedulePreview(delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(preview, delay);
}

async function preview() {
  const answer = $("answer").value;
  const seq = ++state.previewSeq;
  if (!answer.trim()) {
    setMath($("preview-math"), "");
    $("preview-shape").textContent = "";
    showProblem($("preview-problem"), "");
    $("preview-warnings").replaceChildren();
    $("preview").classList.add("empty");
    return;
  }
  let data;
  try {
    data = await api("/api/preview", { network: state.network.id, wrt: state.wrt, answer });
  } catch (err) {
    data = { problem: err.message, warnings: [] };
  }
  if (seq !== state.previewSeq) return; // a later keystroke's preview is on its way
  $("preview").classList.remove("empty");
  setMath($("preview-math"), data.parsed_mathml);
  $("preview-shape").textContent = data.answer_shape ? `shape ${data.answer_shape}` : "";
  showProblem($("preview-problem"), data.problem);
  $("preview-warnings").replaceChildren(...(data.warnings || []).map((w) => element("li", w)));
}

function matrixTable(caption, rows) {
  const table = element("table", undefined, "matrix");
  table.append(element("caption", caption));
  const most = 4;
  for (const row of rows.slice(0, most)) {
    const tr = document.createElement("tr");
    for (const x of row.slice(0, most)) tr.append(element("td", String(x)));
    if (row.length > most) tr.append(element("td", "…"));
    table.append(tr);
  }
  if (rows.length > most) {
    const tr = document.createElement("tr");
    tr.append(element("td", "⋮"));
    table.append(tr);
  }
  return table;
}

function showResult(r) {
  const box = $("result");
  const verdict = element("p", undefined, `verdict verdict-${r.verdict}`);
  verdict.append(element("strong", r.verdict));
  if (r.mistake) verdict.append(element("span", ` (${r.mistake.replaceAll("_", " ")})`, "mistake"));
  const parts = [verdict];
  if (r.diagnosis) parts.push(element("p", r.diagnosis, "diagnosis"));
  if (r.counterexample) {
    const c = r.counterexample;
    const dims = Object.entries(c.dims).map(([k, v]) => `${k} = ${v}`).join(", ");
    const details = element("details", undefined, "counterexample");
    details.open = true;
    details.append(element("summary", `A counterexample${dims ? ` at ${dims}` : ""}`));
    const tables = element("div", undefined, "matrices");
    tables.append(matrixTable("expected", c.expected), matrixTable("your answer", c.answer));
    details.append(tables);
    const values = element("details", undefined, "values");
    values.append(element("summary", "the values used"));
    for (const [name, rows] of Object.entries(c.values)) values.append(matrixTable(name, rows));
    details.append(values);
    parts.push(details);
  }
  if (r.warnings && r.warnings.length) {
    const ul = element("ul", undefined, "warnings");
    ul.append(...r.warnings.map((w) => element("li", w)));
    parts.push(ul);
  }
  box.replaceChildren(...parts);
}

async function check() {
  const answer = $("answer").value;
  const button = $("check");
  if (!answer.trim()) {
    $("result").replaceChildren(element("p", "Type an answer first.", "problem"));
    return;
  }
  button.disabled = true;
  $("result").classList.remove("stale");
  $("result").replaceChildren(element("p", "Checking…", "note"));
  try {
    showResult(await api("/api/check", { network: state.network.id, wrt: state.wrt, answer }));
  } catch (err) {
    $("result").replaceChildren(element("p", err.message, "problem"));
  } finally {
    button.disabled = false;
  }
}

async function explain(kind) {
  const path = `/api/networks/${encodeURIComponent(state.network.id)}/gradients/` +
    `${encodeURIComponent(state.wrt)}/${kind}`;
  const box = $("explain");
  try {
    const data = await api(path);
    const parts = [element("h3", kind === "hint" ? "Hint" : "The derivation")];
    if (kind === "hint") {
      parts.push(element("p", data.text));
      const div = element("div", undefined, "equation");
      setMath(div, data.mathml);
      parts.push(div);
    } else {
      for (const step of data.steps) {
        const div = element("div", undefined, "equation");
        setMath(div, step);
        parts.push(div);
      }
      if (data.where.length) parts.push(element("p", "where", "note"));
      for (const row of data.where) {
        const div = element("div", undefined, "equation");
        setMath(div, row);
        parts.push(div);
      }
      const code = element("p", undefined, "note");
      code.append("As LaTeX: ", element("code", data.latex));
      parts.push(code);
    }
    box.replaceChildren(...parts);
  } catch (err) {
    box.replaceChildren(element("p", err.message, "problem"));
  }
}

function start() {
  $("network").addEventListener("change", (e) => {
    loadNetwork(e.target.value).catch((err) => showProblem($("load-problem"), err.message));
  });
  $("wrt").addEventListener("change", (e) => selectGradient(e.target.value));
  $("answer").addEventListener("input", () => {
    save(answerKey(), $("answer").value);
    $("result").classList.add("stale"); // the verdict shown is for the text before this edit
    schedulePreview(PREVIEW_DELAY_MS);
  });
  $("answer").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      check();
    }
  });
  $("check").addEventListener("click", check);
  $("hint").addEventListener("click", () => explain("hint"));
  $("show").addEventListener("click", () => explain("derivation"));
  loadNetworks().catch((err) => showProblem($("load-problem"), err.message));
}

start();
