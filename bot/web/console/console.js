// The mediator console. Everything from the server is put in the page with
// textContent, never innerHTML, so residents' text can never become markup.
"use strict";
const CATEGORY = {labour: "劳动", lease: "租房", gig_work: "平台用工", elevator: "加装电梯", other_legal: "其他"};
const REASON = {asks_for_person: "要求人工", escalating: "纠纷升级", urgent: "情况紧急", unsure_after_clarification: "多次未听懂", no_answer: "系统未能回答"};
const STATUS = {waiting: "等待接手", claimed: "处理中", closed: "已结案", returned: "已交回助手"};
const ENTITY = {money: "金额", duration: "时长", date: "日期", employer: "单位", platform: "平台", street: "街道"};
const SENDER = {resident: "居民", mediator: "调解员", system: "系统", assistant: "智能助手"};
let csrf = sessionStorage.getItem("csrf") || "";
let openCase = null;
let timer = null;

const $ = (id) => document.getElementById(id);
function show(view) {
  for (const v of ["login-view", "queue-view", "case-view"]) $(v).hidden = v !== view;
  $("logout").hidden = view === "login-view";
}
function minutes(s) { return s < 60 ? `${s}秒` : `${Math.floor(s / 60)}分钟`; }
async function api(path, options = {}) {
  const headers = {"Content-Type": "application/json"};
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(`/console/api${path}`, {credentials: "same-origin", ...options, headers});
  if (response.status === 401) { show("login-view"); throw new Error("请先登录。"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || "操作失败，请重试。");
  return body;
}
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }

function fillTable(id, cases, action) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  for (const c of cases) {
    const row = document.createElement("tr");
    row.dataset.caseId = c.id;
    cell(row, CATEGORY[c.category] || "未知");
    cell(row, c.street || "未知");
    cell(row, REASON[c.reason] || c.reason);
    cell(row, minutes(c.waiting_s));
    const button = document.createElement("button");
    button.textContent = action === "claim" ? "接手" : "打开";
    button.addEventListener("click", () => action === "claim" ? claim(c.id) : openCaseView(c.id));
    cell(row, "").appendChild(button);
    body.appendChild(row);
  }
}

async function loadQueue() {
  const params = new URLSearchParams();
  if ($("filter-category").value) params.set("category", $("filter-category").value);
  if ($("filter-street").value) params.set("street", $("filter-street").value);
  try {
    const queue = await api(`/queue?${params}`);
    fillTable("waiting", queue.waiting, "claim");
    fillTable("mine", queue.mine, "open");
    $("waiting-count").textContent = queue.waiting.length;
    $("queue-error").textContent = "";
  } catch (e) { $("queue-error").textContent = e.message; }
}

async function claim(id) {
  try { await api(`/cases/${id}/claim`, {method: "POST"}); await openCaseView(id); }
  catch (e) { $("queue-error").textContent = e.message; loadQueue(); }
}

function chatItem(list, sender, text) {
  const li = document.createElement("li");
  li.className = sender;
  li.textContent = `${SENDER[sender] || sender}：${text}`;
  list.appendChild(li);
}

async function openCaseView(id) {
  try {
    const c = await api(`/cases/${id}`);
    openCase = c;
    $("case-title").textContent = `#${c.number} · ${CATEGORY[c.category] || "未知"} · ${c.street || "街道未知"}`;
    const dl = $("case-summary");
    dl.replaceChildren();
    const entities = c.summary.entities || {};
    const facts = [["原因", REASON[c.reason] || c.reason], ["意图", c.intent || "—"], ["已等待", minutes(c.waiting_s)], ["状态", STATUS[c.status] || c.status],
      ["已引用法条", (c.summary.statutes_shown || []).map((r) => r.split("|").slice(0, 1).join("") + r.split("|")[2]).join("；") || "—"],
      ...Object.entries(entities).map(([k, v]) => [ENTITY[k] || k, v.join("、")])];
    for (const [k, v] of facts) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      dl.append(dt, dd);
    }
    $("transcript").replaceChildren();
    for (const t of c.summary.transcript || []) chatItem($("transcript"), t.from, t.text);
    $("messages").replaceChildren();
    for (const m of c.messages) chatItem($("messages"), m.sender, m.text);
    $("outcome").replaceChildren(...c.outcomes.map((o) => { const opt = document.createElement("option"); opt.textContent = o; return opt; }));
    $("case-error").textContent = "";
    show("case-view");
  } catch (e) { $("queue-error").textContent = e.message; }
}

async function loadQuickReplies() {
  const box = $("quick-replies");
  try {
    const {replies} = await api("/quick-replies");
    box.replaceChildren(...replies.map((text) => {
      const b = document.createElement("button"); b.type = "button"; b.textContent = text;
      b.addEventListener("click", () => { $("reply-text").value = text; });
      return b;
    }));
  } catch (e) { box.textContent = ""; }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const me = await fetch("/console/api/login", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: $("username").value, password: $("password").value})});
    const body = await me.json();
    if (!me.ok) throw new Error(body.error.message);
    csrf = body.csrf_token; sessionStorage.setItem("csrf", csrf);
    $("who").textContent = `${body.display_name}（${body.role === "admin" ? "管理员" : "调解员"}）`;
    $("admin-link").hidden = body.role !== "admin";
    $("password").value = "";
    show("queue-view"); loadQueue(); loadQuickReplies();
  } catch (e) { $("login-error").textContent = e.message || "登录失败。"; }
});
$("logout").addEventListener("click", async () => { try { await api("/logout", {method: "POST"}); } finally { show("login-view"); } });
$("back").addEventListener("click", () => { openCase = null; show("queue-view"); loadQueue(); });
$("filter-category").addEventListener("change", loadQueue);
$("filter-street").addEventListener("change", loadQueue);
$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`/cases/${openCase.id}/messages`, {method: "POST", body: JSON.stringify({text: $("reply-text").value})});
    $("reply-text").value = ""; await openCaseView(openCase.id);
  } catch (e) { $("case-error").textContent = e.message; }
});
$("return-bot").addEventListener("click", async () => {
  try { await api(`/cases/${openCase.id}/return`, {method: "POST"}); $("back").click(); }
  catch (e) { $("case-error").textContent = e.message; }
});
$("close-case").addEventListener("click", async () => {
  try {
    await api(`/cases/${openCase.id}/close`, {method: "POST", body: JSON.stringify({outcome: $("outcome").value})});
    $("back").click();
  } catch (e) { $("case-error").textContent = e.message; }
});

for (const s of ["赤岗","新港","昌岗","江南中","滨江","素社","海幢","南华西","龙凤","沙园","南石头","凤阳","瑞宝","江海","琶洲","南洲","华洲","官洲"]) {
  const opt = document.createElement("option"); opt.value = s; opt.textContent = s; $("filter-street").appendChild(opt);
}
// a session that is still valid goes straight to the queue; new cases and messages appear by polling
api("/queue").then(() => { show("queue-view"); loadQueue(); loadQuickReplies(); }).catch(() => show("login-view"));
timer = setInterval(() => {
  if (!$("queue-view").hidden) loadQueue();
  else if (!$("case-view").hidden && openCase && document.activeElement !== $("reply-text")) openCaseView(openCase.id);
}, 3000);
