// The residents' web chat. All text from the server is set with textContent
// (never innerHTML). The resident's identity is issued by the gateway
// (POST /api/v1/residents) and kept in this browser; every call carries its token.
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log");
localStorage.removeItem("haizhu-resident");  // the id this page once chose itself: no longer accepted
let resident = JSON.parse(localStorage.getItem("haizhu-resident-token") || "null");
let lastPushed = Number(localStorage.getItem("haizhu-last-push") || 0);
// messages the gateway kept while the assistant could not answer (503 with their id): their
// replies come later, in order, and are fetched here (kept across visits of this browser)
let kept = JSON.parse(localStorage.getItem("haizhu-kept") || "[]");

class Refused extends Error {}  // the gateway's own words (Chinese), shown as they are

async function identity(renew) {
  if (resident && !renew) return resident;
  const response = await fetch("/api/v1/residents", {method: "POST"});
  const body = await response.json();
  if (!response.ok) throw new Refused(body.error ? body.error.message : "暂时无法开始对话，请稍后再试。");
  resident = {user_id: body.user_id, token: body.token};
  localStorage.setItem("haizhu-resident-token", JSON.stringify(resident));
  lastPushed = 0; localStorage.setItem("haizhu-last-push", "0");
  return resident;
}

// a call as this resident; an expired or unknown token gets a new identity once
async function asResident(path, options = {}) {
  for (const renew of [false, true]) {
    const me = await identity(renew);
    const response = await fetch(path.replace("{me}", encodeURIComponent(me.user_id)), {
      ...options, headers: {...(options.headers || {}), Authorization: `Bearer ${me.token}`}});
    if (response.status !== 401 || renew) return response;
  }
}
// ①《劳动合同法》第三十条（现行有效 · 2012-12-28版）\n“…”
const QUOTE = /([①②③④⑤⑥⑦⑧⑨])《([^》]+)》(第[^（\n]+条(?:之[一二三四五六七八九十]+)?)（([^）·]+?)(?: · ([\d-]+)版)?）\n“([\s\S]*?)”/g;

function scroll() { log.scrollTop = log.scrollHeight; }

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = `bubble ${kind}`;
  div.textContent = text;
  log.appendChild(div); scroll();
  return div;
}

function citationCard(match) {
  const [, marker, law, label, status, version, body] = match;
  const card = document.createElement("div");
  card.className = "card";
  const head = document.createElement("div");
  const cite = document.createElement("span"); cite.className = "cite"; cite.textContent = `${marker}《${law}》${label}`;
  const st = document.createElement("span"); st.className = "status"; st.textContent = status + (version ? ` · ${version}版` : "");
  head.append(cite, st);
  const text = document.createElement("div"); text.className = "body"; text.textContent = body;
  const more = document.createElement("button"); more.type = "button"; more.textContent = "展开全文";
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const response = await fetch(`/api/v1/articles?law=${encodeURIComponent(law)}&label=${encodeURIComponent(label)}`);
      const article = await response.json();
      if (!response.ok) throw new Error(article.error.message);
      text.textContent = article.text;
      more.remove();
    } catch (e) { more.textContent = "暂时无法展开，请稍后再试"; }
  });
  card.append(head, text, more);
  return card;
}

function botReply(reply) {
  const div = document.createElement("div");
  div.className = "bubble bot";
  const text = reply.text || "";
  let last = 0;
  for (const match of text.matchAll(QUOTE)) {
    div.appendChild(document.createTextNode(text.slice(last, match.index)));
    div.appendChild(citationCard(match));
    last = match.index + match[0].length;
  }
  div.appendChild(document.createTextNode(text.slice(last)));
  log.appendChild(div);
  if (reply.buttons && reply.buttons.length) {
    const choices = document.createElement("div");
    choices.className = "choices";
    for (const b of reply.buttons) {
      const button = document.createElement("button");
      button.type = "button"; button.textContent = b.title;
      button.addEventListener("click", () => send(b.payload, b.title));
      choices.appendChild(button);
    }
    log.appendChild(choices);
  }
  scroll();
}

// messages are sent one after another, in the order the resident sent them (none is dropped while one is in flight)
let queue = Promise.resolve();
function send(text, shown) {
  if (!text.trim()) return;
  bubble("me", shown || text);
  queue = queue.then(() => deliver(text));
}

// each message's own key (the API's Idempotency-Key): when the connection broke or the
// balancer lost the gateway that had it (502/504), whether it was kept is not known, so it is
// sent again with the same key: the gateway answers with the first one's reply, never twice
function messageKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
const RESEND_AFTER_MS = [1000, 3000, 6000];
const pause = (ms) => new Promise((done) => setTimeout(done, ms));

async function post(text) {
  const key = messageKey();
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await asResident("/api/v1/messages", {method: "POST",
        headers: {"Content-Type": "application/json", "Idempotency-Key": key}, body: JSON.stringify({text})});
      if ((response.status !== 502 && response.status !== 504) || attempt === RESEND_AFTER_MS.length) return response;
    } catch (e) {
      if (e instanceof Refused || attempt === RESEND_AFTER_MS.length) throw e;
    }
    await pause(RESEND_AFTER_MS[attempt]);
  }
}

async function deliver(text) {
  $("send").disabled = true;
  try {
    const response = await post(text);
    const body = await response.json();
    if (response.ok) body.replies.forEach(botReply);
    else if (response.status === 503 && body.error && body.error.message_id) {
      keep(body.error.message_id);  // the API's words name the message_id: the page says what it does instead
      bubble("system", "系统正忙，您的消息已经保存。恢复后会按顺序在这里回复您，不用重新发送。");
    } else bubble("system", body.error ? body.error.message : "发送失败，请稍后再试。");
  } catch (e) {
    bubble("system", e instanceof Refused ? e.message : "网络不通，这条消息可能没有发出去，请稍后再发送一次。");
  } finally { $("send").disabled = false; }
}

function saveKept() { localStorage.setItem("haizhu-kept", JSON.stringify(kept)); }

function keep(messageId) {
  kept.push(messageId);
  saveKept();
}

// the replies to kept messages, oldest first; one still waiting holds back the later ones
async function pollKept() {
  while (kept.length) {
    const response = await asResident(`/api/v1/messages/${encodeURIComponent(kept[0])}`);
    if (response.status === 200) {
      const body = await response.json();
      if (body.status === "pending") return;
      (body.replies || []).forEach(botReply);
    } else if (response.status !== 404 && response.status !== 403) {
      return;  // the gateway is busy or away: ask again next round
    }  // 404 or 403: gone (the retention purge) or another identity's: nothing to show
    kept.shift();
    saveKept();
  }
}

async function pollMediator() {
  try {
    if (!resident) return;  // nothing sent yet: nobody can have written to this resident
    const response = await asResident(`/api/v1/conversations/{me}/messages?after=${lastPushed}`);
    if (response.ok) {
      const body = await response.json();
      for (const m of body.messages) {
        bubble(m.from === "mediator" ? "mediator" : "system", (m.from === "mediator" ? "调解员：" : "") + m.text);
        lastPushed = Math.max(lastPushed, m.id);
        localStorage.setItem("haizhu-last-push", String(lastPushed));
      }
      // a deadline reminder that fell due since the last visit (shown once: the gateway marks it sent)
      for (const r of body.reminders || []) bubble("system", r.text);
    }
  } catch (e) { /* offline: try again next round */ }
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value; $("text").value = ""; send(text);
});
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
});
$("human").addEventListener("click", () => send("/request_human", "转人工"));
$("privacy-ok").addEventListener("click", () => { localStorage.setItem("haizhu-privacy-ok", "1"); $("privacy").hidden = true; $("text").focus(); });
if (!localStorage.getItem("haizhu-privacy-ok")) $("privacy").hidden = false;
bubble("bot", "您好！我是海珠区公共法律服务智能助手。请直接说说您遇到的问题，比如拖欠工资、被辞退、租房押金、外卖骑手受伤、加装电梯等。");
setInterval(pollMediator, 2000);
let fetchingKept = false;  // one round at a time: a slow round must not show a reply twice
setInterval(async () => {
  if (fetchingKept) return;
  fetchingKept = true;
  try { await pollKept(); } catch (e) { /* offline: try again next round */ } finally { fetchingKept = false; }
}, 2000);
