// campus-gate guard console: start-up, pages, and the alarms that show whatever the
// session state (fire, lost connection, open critical alerts).
import { $, $$, api, beep, hooks, notify, post, state, t, translatePage } from "./core.js";
import "./cameras.js";
import { loadAudit, loadPrivacy, loadReview, privacyBanner } from "./evidence.js";
import { liveMessage, loadLive, refreshFeed, stopLive } from "./live.js";
import * as pages from "./pages.js";
import { loadHost, loadVisitor, loadVisitors } from "./visitors.js";

const ALARM_POLL_MS = 1500;
const ADMIN_PAGES = new Set(["users", "audit", "privacy"]);
const LOADERS = {
  live: loadLive, rollcall: pages.loadRollcall,
  people: (arg) => (arg ? pages.loadPerson(arg) : pages.loadPeople()),
  attendance: () => pages.loadAttendance(), visitors: (arg) => (arg ? loadVisitor(arg) : loadVisitors()),
  vehicles: pages.loadVehicles, map: pages.loadMap, devices: pages.loadDevices, users: pages.loadUsers,
  audit: loadAudit, host: loadHost, review: loadReview, privacy: loadPrivacy,
};

function showLogin(expired = false) {
  state.me = null;
  closeSocket();
  $("#login").hidden = false; $("#nav").hidden = true; $("#privacy-banner").hidden = true; $("#logout").hidden = true; $("#who").textContent = "";
  $("#login-error").textContent = expired ? t("ui.session_expired") : "";
  $$(".page").forEach((p) => { p.hidden = true; });
  stopLive();
}
// a 401 to a request asked before the latest login is about the old session, not this one
hooks.unauthorised = (asked) => { if (state.me && asked === state.login) showLogin(true); };

async function start() {
  try { state.me = await api("/api/me"); } catch { showLogin(); return; }
  if (!localStorage.getItem("lang") && state.me.language) { state.lang = state.me.language; translatePage(); }
  const me = state.me;
  $("#login").hidden = true; $("#nav").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${me.user} · ${t(`role.${me.role}`)}`;
  document.body.dataset.role = me.role;
  $$("[data-admin]").forEach((n) => { n.hidden = me.role !== "admin"; });
  if (me.role === "host") { if (!location.hash.startsWith("#host")) location.hash = "#host"; }
  else connectLive();
  await route();
}

export async function route() {
  if (!state.me) return;
  let [page, arg] = (location.hash.slice(1) || "live").split("/");
  arg = arg ? decodeURIComponent(arg) : undefined;
  if (state.me.role === "host") page = "host";
  if (!(page in LOADERS)) page = "live";
  $$(".page").forEach((p) => { p.hidden = true; });
  $$("#nav a").forEach((a) => a.classList.toggle("active", a.hash === `#${page}`));
  if (page !== "live") stopLive();
  privacyBanner(page);
  if (ADMIN_PAGES.has(page) && state.me.role !== "admin") { $("#page-forbidden").hidden = false; return; }
  $(`#page-${page}`).hidden = false;
  try {
    await LOADERS[page](arg);
  } catch (err) {
    if (err?.status !== 401) notify(`${t("ui.not_loaded")}: ${err?.message || err}`, false);
  }
}

// Live feed ------------------------------------------------------------------------------

let socket = null;
let socketWanted = false;
function connectLive() {
  socketWanted = true;
  if (socket) return;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`);
  socket.onopen = () => {
    connection.set("live", true);
    if (state.me && !$("#page-live").hidden) refreshFeed().catch(() => { /* shown by the alarm bar */ });
  };
  socket.onmessage = (msg) => liveMessage(JSON.parse(msg.data));
  socket.onclose = (ev) => {
    socket = null; connection.set("live", false);
    if (ev.code === 4401) { showLogin(true); return; }
    if (socketWanted && state.me) setTimeout(connectLive, 2000);
  };
}
function closeSocket() { socketWanted = false; if (socket) socket.close(); socket = null; }

// Alarms -----------------------------------------------------------------------------------

const connection = {
  service: true, live: true,
  set(part, ok) {
    this[part] = ok;
    const up = this.service && (this.live || !state.me || state.me.role === "host");
    const dot = $("#conn");
    dot.className = `conn ${this.service ? (up ? "up" : "partial") : "down"}`;
    dot.textContent = t(this.service ? (up ? "ui.connected" : "ui.reconnecting") : "ui.disconnected");
    $("#conn-banner").hidden = this.service;
    if (!this.service) $$(".lane-state").forEach((n) => { n.textContent = t("ui.lane_unknown"); n.className = "lane-state unknown"; });
    updateAlarmBar();
  },
};
let fire = { active: false, released: false, fault: false, cause: null };
let critical = 0;
let fireBeeps = null;
let rollcallShown = false;  // once per fire alarm, the roll call opens by itself

// A fault of the fire input (a cut wire) is not a fire: its own words, and no roll call.
function fireText() {
  if (fire.active) return t("ui.fire_active");
  if (fire.fault) return t(fire.released ? "ui.fire_fault" : "ui.fire_fault_hold");
  return t(fire.cause === "fire_input_fault" ? "ui.fire_fault_released" : "ui.fire_released");
}

function updateAlarmBar() {
  const bar = $("#alarm-bar");
  const fireOn = fire.active || fire.released || fire.fault;
  $("#fire-banner").hidden = !fireOn;
  $("#fire-banner").dataset.cause = fire.active ? "fire_alarm" : (fire.fault ? "fire_input_fault" : (fire.cause || ""));
  const isFire = fire.active || (!fire.fault && fire.cause !== "fire_input_fault");
  $("#fire-banner strong").textContent = t(isFire ? "ui.fire_alarm" : "ui.fire_input_fault_title");
  $("#fire-text").textContent = fireText();
  $("#critical-banner").hidden = critical === 0;
  $("#critical-text").textContent = t("ui.critical_open", { n: critical });
  bar.hidden = $("#fire-banner").hidden && $("#critical-banner").hidden && $("#conn-banner").hidden;
}

async function pollAlarm() {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 2000);
  const asked = state.login;
  try {
    const res = await fetch("/api/alarm", { credentials: "same-origin", signal: ctrl.signal, cache: "no-store" });
    if (!res.ok) throw new Error(String(res.status));
    const a = await res.json();
    if (!connection.service) { connection.set("service", true); if (state.me) route(); }
    fire = a.fire;
    if (a.critical_open > critical) beep(660, 400);
    critical = a.critical_open;
    const fireNow = fire.active || (fire.released && fire.cause === "fire_alarm");
    if (!fireNow) rollcallShown = false;
    if (fireNow && !rollcallShown && state.me && state.me.role !== "host") { rollcallShown = true; location.hash = "#rollcall"; }
    if (fire.active && !fireBeeps) fireBeeps = setInterval(() => beep(990, 500), 2000);
    if (!fire.active && fireBeeps) { clearInterval(fireBeeps); fireBeeps = null; }
    // a poll asked before the guard logged in answers "no session" for that moment only
    if (state.me && !a.session && asked === state.login) showLogin(true);
    updateAlarmBar();
    return a;
  } catch {
    connection.set("service", false);
    return null;
  } finally {
    clearTimeout(timer);
  }
}

// A watching guard's session stays alive while the live page is open and visible.
function heartbeat() {
  const onLive = !$("#page-live").hidden;
  if (state.me && onLive && document.visibilityState === "visible") post("/api/heartbeat", {}).catch(() => {});
}

// Start ------------------------------------------------------------------------------------

// Module scripts run after the document is parsed (and after core.js has its words).
(() => {
  translatePage();
  // A form whose view has not wired it yet must not reload the page (and lose what was typed):
  // nothing in the console submits natively except the <dialog> forms.
  document.addEventListener("submit", (ev) => { if (ev.target.method !== "dialog") ev.preventDefault(); }, true);
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", state.lang);
    translatePage(); connection.set("service", connection.service);
    if (state.me) { $("#who").textContent = `${state.me.user} · ${t(`role.${state.me.role}`)}`; route(); }
  });
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    let res;
    try {
      res = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: f.elements.username.value, password: f.elements.password.value }) });
    } catch { $("#login-error").textContent = t("error.offline"); return; }
    if (!res.ok) {
      const wait = res.headers.get("Retry-After");
      $("#login-error").textContent = t(res.status === 429 ? "error.locked_out" : "error.wrong_login") + (wait ? ` (${t("ui.retry_in", { s: wait })})` : "");
      return;
    }
    state.login += 1;
    f.reset(); $("#login-error").textContent = ""; start();
  });
  $("#logout").addEventListener("click", async () => {
    try { await post("/api/logout", {}); } catch { /* gone anyway */ }
    location.hash = ""; showLogin();
  });
  window.addEventListener("hashchange", route);
  setInterval(pollAlarm, ALARM_POLL_MS);
  setInterval(heartbeat, 60_000);
  document.addEventListener("visibilitychange", heartbeat);
  pollAlarm().then((a) => { if (a?.session) start(); else showLogin(); });
})();
