// The residents' web chat. All text from the server is set with textContent
// (never innerHTML). The resident's id is a random token kept in this browser.
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log");
let userId = localStorage.getItem("haizhu-resident");
if (!userId) {
  const bytes = new Uint8Array(16); crypto.getRandomValues(bytes);
  userId = "web:" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  localStorage.setItem("haizhu-resident", userId);
}
let lastPushed = Number(localStorage.getItem("haizhu-last-push") || 0);
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

async function deliver(text) {
  $("send").disabled = true;
  try {
    const response = await fetch("/api/v1/messages", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user_id: userId, text})});
    const body = await response.json();
    if (!response.ok) bubble("system", body.error ? body.error.message : "发送失败，请稍后再试。");
    else body.replies.forEach(botReply);
  } catch (e) {
    bubble("system", "网络不通，消息没有发出去，请稍后再试。");
  } finally { $("send").disabled = false; }
}

async function pollMediator() {
  try {
    const response = await fetch(`/api/v1/conversations/${encodeURIComponent(userId)}/messages?after=${lastPushed}`);
    if (response.ok) {
      for (const m of (await response.json()).messages) {
        bubble(m.from === "mediator" ? "mediator" : "system", (m.from === "mediator" ? "调解员：" : "") + m.text);
        lastPushed = Math.max(lastPushed, m.id);
        localStorage.setItem("haizhu-last-push", String(lastPushed));
      }
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
