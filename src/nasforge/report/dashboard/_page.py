"""The dashboard's single page: HTML, CSS and a script that polls the JSON API once a second.

Everything from a store is put in the page with ``textContent`` or as SVG attributes, never as
markup, so a ``<script>`` in a study name or an error message is shown as text. Nothing is
loaded from another origin (the app's Content-Security-Policy forbids it): the plots are SVG
drawn by the script. The master token is read from the URL fragment (``#token=...``, which
browsers never send to a server) or typed into the page; to steer a study the page first asks
``GET /api/studies/NAME/token`` with it and sends the write with that study's own token, so the
master never travels with a write. A value the server does not take as the master (a study's own
token, pasted) is sent as it is, and the write's answer says what is wrong with it.
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nasforge dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#283593;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header h1{font-size:18px;margin:0}
main{display:grid;grid-template-columns:260px 1fr;gap:16px;padding:16px;max-width:1400px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;margin-bottom:12px}
h2{font-size:15px;margin:0 0 8px}
#studies li{cursor:pointer;padding:4px;border-radius:4px;list-style:none;overflow-wrap:anywhere}
#studies ul{padding:0;margin:0}
#studies li.sel{background:#e8eaf6;font-weight:600}
.bar{height:10px;background:#eee;border-radius:5px;overflow:hidden}
.bar div{height:100%;background:#3f51b5;width:0}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f5f5f5}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:12px}
svg{width:100%;height:220px;background:#fff}
.state-COMPLETE{color:#2e7d32}.state-FAILED,.state-TIMEOUT{color:#c62828}
.state-RUNNING{color:#1565c0}
#message{min-height:1.4em}.error{color:#c62828}.ok{color:#2e7d32}
form{display:flex;gap:6px;flex-wrap:wrap;align-items:center;margin:4px 0}
input[type=text]{flex:1;min-width:200px}
</style></head>
<body>
<header><h1>nasforge dashboard</h1><span id="updated"></span></header>
<main>
<div><section id="studies"><h2>Studies</h2><ul id="study-list"></ul></section></div>
<div id="detail">
<section><h2 id="study-name">No study selected</h2>
<div id="status"></div><div class="bar"><div id="progress"></div></div>
<div id="best"></div></section>
<div class="plots">
<section><h2>Trajectory</h2><svg id="trajectory" viewBox="0 0 400 220"></svg></section>
<section><h2 id="front-title">Front</h2><svg id="front" viewBox="0 0 400 220"></svg></section>
</div>
<section id="steer"><h2>Steer</h2>
<form id="token-form"><label>Token <input type="text" id="token" autocomplete="off"
placeholder="printed when the dashboard started"></label></form>
<form><button type="button" id="pause">Pause</button>
<button type="button" id="resume">Resume</button>
<button type="button" id="stop">Stop</button></form>
<form id="steer-form"><select id="action"><option>forbid</option><option>pin</option>
<option>inject</option><option>budget</option></select>
<input type="text" id="argument"
placeholder="op=avg_pool_3x3 | cell.edge_1_0=nor_conv_3x3 | an architecture | trials=200">
<button type="submit" id="send">Send</button></form>
<div id="message"></div></section>
<section><h2>Recent trials</h2><table id="trials"><colgroup><col style="width:6%">
<col style="width:11%"><col style="width:8%"><col style="width:10%"><col style="width:40%">
<col style="width:25%"></colgroup><thead><tr><th>#</th><th>state</th><th>source</th>
<th>value</th><th>architecture</th><th>reason</th></tr></thead><tbody></tbody></table></section>
<section><h2>Events</h2><table id="events"><thead><tr><th>#</th><th>kind</th><th>details</th>
<th>applied from trial</th></tr></thead><tbody></tbody></table></section>
</div></main>
<script>
"use strict";
let current = null;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("token")) { $("token").value = hash.get("token"); }

function text(el, value) { el.textContent = value == null ? "" : String(value); }
function fmt(v) { return v == null ? "" : (Math.abs(v) >= 1e4 ? v.toExponential(3)
  : Number(v.toPrecision(5)).toString()); }
function row(tbody, cells, cls) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => { const td = document.createElement("td"); text(td, c);
    if (i === 1 && cls) td.className = cls; tr.appendChild(td); });
  tbody.appendChild(tr);
}
function say(message, ok) { const m = $("message"); text(m, message);
  m.className = ok ? "ok" : "error"; }

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function renderList(studies) {
  const ul = $("study-list");
  ul.replaceChildren();
  if (!current && studies.length) current = studies[0].name;
  for (const s of studies) {
    const li = document.createElement("li");
    text(li, s.name + " \\u2014 " + s.status + ", " + s.n_trials + " trials");
    li.dataset.name = s.name;
    if (s.name === current) li.className = "sel";
    li.addEventListener("click", () => { current = s.name; refresh(); });
    ul.appendChild(li);
  }
}

function plot(svg, series, opts) {
  svg.replaceChildren();
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) { const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 20); t.setAttribute("y", 110); text(t, opts.empty);
    svg.appendChild(t); return; }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; } if (y0 === y1) { y0 -= 1; y1 += 1; }
  const X = (x) => 40 + (x - x0) / (x1 - x0) * 350, Y = (y) => 200 - (y - y0) / (y1 - y0) * 185;
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("d", "M40 5 V200 H390"); axis.setAttribute("stroke", "#999");
  axis.setAttribute("fill", "none"); svg.appendChild(axis);
  for (const [v, x, y, anchor] of [[y1, 36, 14, "end"], [y0, 36, 200, "end"],
      [x0, 40, 215, "start"], [x1, 390, 215, "end"]]) {
    const t = document.createElementNS(SVG, "text"); t.setAttribute("x", x);
    t.setAttribute("y", y); t.setAttribute("font-size", "10");
    t.setAttribute("text-anchor", anchor); text(t, fmt(v)); svg.appendChild(t);
  }
  for (const [label, x, y, anchor] of [[opts.x, 215, 215, "middle"], [opts.y, 44, 12, "start"]]) {
    if (!label) continue;
    const t = document.createElementNS(SVG, "text"); t.setAttribute("x", x);
    t.setAttribute("y", y); t.setAttribute("font-size", "11"); t.setAttribute("fill", "#555");
    t.setAttribute("text-anchor", anchor); text(t, label); svg.appendChild(t);
  }
  for (const s of series) {
    if (s.line && s.points.length > 1) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", s.points.map((p, i) => (i ? "L" : "M") + X(p[0]) + " " + Y(p[1]))
        .join(" "));
      path.setAttribute("stroke", s.color); path.setAttribute("fill", "none");
      path.setAttribute("stroke-width", "2"); svg.appendChild(path);
    }
    if (s.dots) for (const p of s.points) {
      const c = document.createElementNS(SVG, "circle"); c.setAttribute("cx", X(p[0]));
      c.setAttribute("cy", Y(p[1])); c.setAttribute("r", s.r || 3);
      c.setAttribute("fill", s.color); svg.appendChild(c);
    }
  }
}

function renderStudy(s) {
  text($("study-name"), s.name);
  const budget = s.budget.trials;
  text($("status"), s.status + " \\u00b7 " + s.n_trials + (budget ? " / " + budget : "")
    + " trials \\u00b7 " + Object.entries(s.counts).map(([k, v]) => v + " " + k).join(", ")
    + " \\u00b7 " + Math.round(s.elapsed_s) + " s");
  $("progress").style.width = budget ? Math.min(100, 100 * s.n_trials / budget) + "%" : "0";
  const metric = s.objectives.length ? s.objectives[0].metric : "value";
  text($("best"), s.best ? "best: Trial#" + s.best.number + " " + metric + " = "
    + fmt(s.best.value) + " \\u2014 " + s.best.arch : "no complete trial yet");
  const traj = s.trajectory;
  plot($("trajectory"), [
    {points: traj.filter((p) => p.value != null).map((p) => [p.number, p.value]),
     dots: true, color: "#9fa8da"},
    {points: traj.filter((p) => p.best != null).map((p) => [p.number, p.best]),
     line: true, color: "#283593"}], {empty: "no finished trial yet", x: "trial",
     y: metric + " (dots) and best so far"});
  const fr = s.front;
  text($("front-title"), fr.points.length || fr.objectives.length > 1
    ? "Front: " + fr.objectives.join(" vs ") : "Front (one objective)");
  plot($("front"), [
    {points: fr.points.map((p) => [p.x, p.y]), dots: true, color: "#bbb"},
    {points: fr.points.filter((p) => p.front).map((p) => [p.x, p.y]).sort((a, b) => a[0] - b[0]),
     dots: true, line: true, color: "#c62828", r: 4}],
    {empty: fr.objectives.length > 1 ? "no complete trial yet" : "a single objective",
     x: fr.objectives[0], y: fr.points.length ? fr.objectives[1] : ""});
  const tb = $("trials").tBodies[0]; tb.replaceChildren();
  for (const t of s.recent) row(tb, [t.number, t.state, t.source, fmt(t.value), t.arch,
    t.reason], "state-" + t.state);
  const eb = $("events").tBodies[0]; eb.replaceChildren();
  for (const e of s.events) row(eb, [e.id, e.kind, Object.entries(e.payload)
    .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" "),
    e.handled ? (e.applied_at == null ? "refused" : e.applied_at) : "pending"]);
}

async function refresh() {
  try {
    const studies = await getJSON("/api/studies");
    renderList(studies);
    if (current) renderStudy(await getJSON("/api/studies/" + encodeURIComponent(current)));
    text($("updated"), "updated " + new Date().toLocaleTimeString());
  } catch (e) { text($("updated"), "cannot reach the dashboard: " + e.message); }
}

function payloadOf(action, arg) {
  arg = arg.trim();
  if (action === "inject") return {arch: arg};
  if (action === "budget") {
    const out = {};
    for (const part of arg.split(/\\s+/).filter(Boolean)) {
      const [k, v] = part.split("=");
      out[k] = v === undefined ? v : Number(v);
    }
    return out;
  }
  const i = arg.indexOf("=");
  if (i < 0) throw new Error("write op=VALUE or DECISION=VALUE");
  const [name, value] = [arg.slice(0, i), arg.slice(i + 1)];
  return name === "op" ? {op: value} : {decision: name, value: value};
}

const studyTokens = new Map();  // master + "\\n" + study -> that study's own token
async function studyToken(given, name) {
  const key = given + "\\n" + name;
  if (!studyTokens.has(key)) {
    const r = await fetch("/api/studies/" + encodeURIComponent(name) + "/token",
      {cache: "no-store", headers: {"Authorization": "Bearer " + given}});
    if (!r.ok) return given;  // not the master: perhaps the study's own token, sent as it is
    studyTokens.set(key, (await r.json()).token);
  }
  return studyTokens.get(key);
}

async function send(event) {
  if (!current) return say("no study selected", false);
  const name = current;
  const headers = {"Content-Type": "application/json"};
  const given = $("token").value.trim();
  if (given) headers["Authorization"] = "Bearer " + await studyToken(given, name);
  const r = await fetch("/api/studies/" + encodeURIComponent(name) + "/events", {
    method: "POST", headers: headers, body: JSON.stringify(event)});
  const body = await r.json().catch(() => ({}));
  if (r.ok) say("sent " + event.kind + " (event " + body.id + ")", true);
  else say(r.status + ": " + (typeof body.detail === "string" ? body.detail
    : JSON.stringify(body.detail)), false);
  refresh();
}

for (const kind of ["pause", "resume", "stop"])
  $(kind).addEventListener("click", () => send({kind: kind}));
$("steer-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const action = $("action").value;
  try { send(Object.assign({kind: action}, payloadOf(action, $("argument").value))); }
  catch (e) { say(e.message, false); }
});
$("token-form").addEventListener("submit", (ev) => ev.preventDefault());
refresh();
setInterval(refresh, 1000);
</script></body></html>
"""
"""The page, served at ``/``."""
