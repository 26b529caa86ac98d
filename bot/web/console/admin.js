// The admin statistics page: numbers from /console/api/stats, a bar chart drawn as SVG (no external library).
"use strict";
const $ = (id) => document.getElementById(id);
const NAMES = {labour: "劳动", lease: "租房", gig_work: "平台用工", elevator: "加装电梯", other_legal: "其他",
  waiting: "等待中", claimed: "处理中", closed: "已结案", returned: "已交回助手"};
function table(id, counts) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...Object.entries(counts).map(([k, v]) => {
    const row = document.createElement("tr");
    for (const text of [NAMES[k] || k, String(v)]) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
    return row;
  }));
}
function chart(perDay) {
  const svg = $("per-day"), ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const days = Object.entries(perDay), max = Math.max(1, ...days.map(([, v]) => v));
  const width = svg.clientWidth || 600, barWidth = Math.max(4, (width - 40) / Math.max(days.length, 1) - 4);
  days.forEach(([day, count], i) => {
    const h = Math.round(170 * count / max), x = 30 + i * (barWidth + 4);
    const rect = document.createElementNS(ns, "rect");
    Object.entries({x, y: 190 - h, width: barWidth, height: h, fill: "#1f4e79"}).forEach(([k, v]) => rect.setAttribute(k, v));
    const title = document.createElementNS(ns, "title"); title.textContent = `${day}：${count}`; rect.appendChild(title);
    const label = document.createElementNS(ns, "text");
    Object.entries({x, y: 210, "font-size": 10}).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = day.slice(5);
    svg.append(rect, label);
  });
}
async function load() {
  const response = await fetch(`/console/api/stats?days=${$("days").value}`, {credentials: "same-origin"});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) { $("stats-error").textContent = (body.error && body.error.message) || "无法读取统计。"; return; }
  $("total").textContent = body.cases;
  const median = body.claim_delay_s.median;
  $("median").textContent = median == null ? "—" : `${Math.round(median / 60)}分钟`;
  table("by-category", body.by_category); table("by-street", body.by_street);
  table("by-outcome", body.by_outcome); table("by-status", body.by_status);
  chart(body.per_day);
}
$("days").addEventListener("change", load);
load();
