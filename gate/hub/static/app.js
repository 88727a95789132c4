"use strict";
// District page: plain DOM, no inline script (the CSP forbids it), zh-CN and English.
const T = {
  "zh-CN": {
    title: "区域平台", login: "登录", logout: "退出", username: "用户名", password: "密码",
    schools: "今日各校", school: "学校", arrivals: "入校人次", pupils: "入校人数",
    raised: "报警数", acked_in_time: "按时处置", escalated: "升级", rate: "闭环率",
    alerts: "未处置报警", time: "时间", gate: "校门", type: "类型", who_what: "对象",
    snapshot: "抓拍", ack: "确认处置", gates: "校门状态", state: "状态", last_seen: "最后通信",
    backlog: "积压", online: "在线", offline: "离线", unknown: "未知", lang: "English",
    bad_login: "用户名或密码错误",
  },
  en: {
    title: "District hub", login: "Log in", logout: "Log out", username: "Username",
    password: "Password", schools: "Schools today", school: "School", arrivals: "Arrivals",
    pupils: "Pupils", raised: "Alerts raised", acked_in_time: "Acknowledged in time",
    escalated: "Escalated", rate: "Closed-loop rate", alerts: "Open alerts", time: "Time",
    gate: "Gate", type: "Type", who_what: "Who / what", snapshot: "Snapshot",
    ack: "Acknowledge", gates: "Gates", state: "State", last_seen: "Last seen",
    backlog: "Backlog", online: "online", offline: "offline", unknown: "unknown", lang: "中文",
    bad_login: "Wrong username or password",
  },
};
// alert types as the police say them (the English page shows the contract's names)
const TYPES_ZH = {
  visitor_flagged: "访客预警", visitor_overstay: "访客超时", watchlist_face: "布控人员",
  watchlist_plate: "布控车辆", card_face_mismatch: "人卡不符", unknown_card: "未登记卡",
  tailgating: "尾随", loitering: "徘徊", circling_vehicle: "车辆绕行", intrusion: "闯入",
  early_departure: "提前离校", spoof_attempt: "伪造人脸", fire_alarm: "火警",
  device_offline: "设备离线", service_fault: "服务故障", gate_forced: "强行通过",
};
let lang = localStorage.getItem("hub-lang") || (navigator.language.startsWith("zh") ? "zh-CN" : "en");
let me = null;
const $ = (sel) => document.querySelector(sel);
const t = (key) => T[lang][key] || key;

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("#lang").textContent = t("lang");
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (me) headers["X-CSRF-Token"] = me.csrf;
  const res = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (res.status === 401) { showLogin(); throw new Error("login"); }
  if (!res.ok) throw new Error((await res.json()).detail || res.statusText);
  return res.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(id, items, render) {
  const body = $(`#${id} tbody`);
  body.replaceChildren();
  for (const item of items) {
    const tr = document.createElement("tr");
    render(tr, item);
    body.appendChild(tr);
  }
}

// times in the district's own time zone, whatever the viewer's computer says
const when = (iso) => new Date(iso).toLocaleString(lang, { timeZone: me.timezone });

async function refresh() {
  const [overview, alerts] = await Promise.all([api("/api/overview"), api("/api/alerts")]);
  fill("schools", overview.schools, (tr, s) => {
    tr.dataset.site = s.site;
    cell(tr, s.site); cell(tr, s.arrivals, "num"); cell(tr, s.pupils, "num");
    cell(tr, s.raised, "num"); cell(tr, s.acknowledged_in_time, "num");
    cell(tr, s.escalated, "num");
    cell(tr, s.rate === null ? "–" : `${(s.rate * 100).toFixed(1)}%`, "num rate");
  });
  fill("alerts", alerts, (tr, a) => {
    tr.dataset.id = a.id;
    cell(tr, when(a.ts)); cell(tr, a.site); cell(tr, a.gate);
    cell(tr, lang === "zh-CN" ? (TYPES_ZH[a.type] || a.type) : a.type, a.severity); cell(tr, a.person || a.plate || ""); cell(tr, a.snapshot || "");
    const td = cell(tr, "");
    if (me.role === "police" || me.role === "admin") {
      const b = document.createElement("button");
      b.textContent = t("ack");
      b.className = "ack";
      b.addEventListener("click", async () => {
        b.disabled = true;
        await api("/api/alerts/ack", { method: "POST",
          body: JSON.stringify({ site: a.site, gate: a.gate, alert_id: a.id }) });
        await refresh();
      });
      td.appendChild(b);
    }
  });
  fill("gates", overview.gates, (tr, g) => {
    cell(tr, g.site); cell(tr, g.gate); cell(tr, t(g.state), g.state);
    cell(tr, when(g.last_seen)); cell(tr, g.backlog, "num");
  });
}

function showLogin() {
  me = null;
  $("#board").hidden = true; $("#logout").hidden = true; $("#login").hidden = false;
  $("#who").textContent = "";
}

async function start() {
  try {
    me = await api("/api/me");
  } catch (e) { return; }
  $("#login").hidden = true; $("#board").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${me.user} (${me.role}) · ${me.district}`;
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  $("#lang").addEventListener("click", () => {
    lang = lang === "en" ? "zh-CN" : "en";
    localStorage.setItem("hub-lang", lang);
    translate();
    if (me) refresh();
  });
  $("#login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      me = await api("/api/login", { method: "POST", body: JSON.stringify({
        username: form.get("username"), password: form.get("password") }) });
      $("#login-error").textContent = "";
      await start();
    } catch (e) { $("#login-error").textContent = t("bad_login"); }
  });
  $("#logout").addEventListener("click", async () => { await api("/api/logout", { method: "POST" }); showLogin(); });
  setInterval(() => { if (me) refresh().catch(() => {}); }, 5000);
  start();
});
