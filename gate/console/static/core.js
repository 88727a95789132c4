// campus-gate console: the shared pieces (words, API calls, messages to the guard).
// Served from the gate; no external script, font or sound.

const CATALOGUE = await fetch("/static/i18n.json", { credentials: "same-origin" }).then((r) => r.json());
// ``login`` counts the logins of this page: an answer to a request asked before the latest
// login speaks of the session before it, and its "not logged in" must not undo the new one.
export const state = { lang: localStorage.getItem("lang") || "zh-CN", me: null, login: 0 };

// A key missing from the catalogue is a console error: tests/test_console_ui.py fails on it.
export function t(key, vars = {}) {
  let text = CATALOGUE[state.lang]?.[key] ?? CATALOGUE.en[key];
  if (text === undefined) { console.error(`missing translation: ${key}`); text = key; }
  return text.replace(/\{(\w+)\}/g, (_m, name) => (vars[name] ?? ""));
}
export const has = (key) => key in (CATALOGUE.en || {});
// The codes the catalogue has words for under one namespace ("audit", "event" ...).
export const codes = (ns) => Object.keys(CATALOGUE.en || {}).filter((k) => k.startsWith(`${ns}.`)).map((k) => k.slice(ns.length + 1));
// The words for a code of the gate's vocabulary (event types, reasons, methods ...).
export function word(ns, code) {
  if (code === null || code === undefined || code === "") return "—";
  return t(`${ns}.${code}`);
}

// The browser's own validation bubbles speak the browser's language; these speak the page's.
document.addEventListener("invalid", (ev) => {
  const n = ev.target;
  if (!n.setCustomValidity || n.validity.customError) return;
  if (n.validity.valueMissing) n.setCustomValidity(t("ui.field_required"));
  else if (n.validity.tooShort) n.setCustomValidity(t("ui.field_too_short", { n: n.minLength }));
  else n.setCustomValidity(t("ui.field_invalid"));
}, true);
document.addEventListener("input", (ev) => { ev.target.setCustomValidity?.(""); }, true);

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return e;
}
export const table = (headers, rows, attrs = {}) => el("table", attrs,
  el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows));
export const time = (ts) => (ts || "").slice(11, 19) || "—";
export const stamp = (ts) => (ts ? ts.slice(0, 16).replace("T", " ") : "—");

export function translatePage() {
  document.documentElement.lang = state.lang;
  $$("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  $$("[data-i18n-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
  $$("[data-i18n-label]").forEach((n) => { n.setAttribute("aria-label", t(n.dataset.i18nLabel)); });
  $("#lang").textContent = state.lang === "zh-CN" ? "English" : "中文";
}

// API --------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status; this.code = body.code || (status === 0 ? "offline" : "refused"); this.fields = body.fields || [];
    this.body = body;  // what a refusal carries for the page to ask (a plate's current owner)
  }
}

export const hooks = { unauthorised: () => {} };

export async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.me) headers["X-CSRF-Token"] = state.me.csrf;
  const asked = state.login;
  let res;
  try {
    res = await fetch(path, { credentials: "same-origin", ...options, headers });
  } catch {
    throw new ApiError(0, { code: "offline" });  // the service is not answering
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) hooks.unauthorised(asked);
    throw new ApiError(res.status, body);
  }
  return res.headers.get("content-type")?.includes("json") ? res.json() : res.text();
}
// Overlapping loads of one view (a filter clicked twice, a reload after a change): only the
// newest may draw, or an older answer that arrives late replaces the newer one on screen.
export function newestOnly() {
  let latest = 0;
  return () => { const mine = ++latest; return () => mine === latest; };
}

export const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });
export const put = (path, body) => api(path, { method: "PUT", body: JSON.stringify(body) });
export const del = (path) => api(path, { method: "DELETE" });

// Why the server refused, in the guard's language.
export function errorText(err) {
  if (!(err instanceof ApiError)) return t("error.unexpected");
  if (err.code === "invalid_field") {
    const fields = err.fields.map((f) => (has(`field.${f}`) ? t(`field.${f}`) : f));
    return t("error.invalid_field", { fields: fields.join(state.lang === "zh-CN" ? "、" : ", ") });
  }
  return has(`error.${err.code}`) ? t(`error.${err.code}`) : t("error.refused");
}

// Every action says whether it happened.
export function notify(text, ok = true) {
  const box = $("#toasts");
  const n = el("div", { class: `toast ${ok ? "ok" : "bad"}`, role: ok ? "status" : "alert" }, text);
  box.append(n);
  setTimeout(() => n.remove(), ok ? 5000 : 9000);
  while (box.children.length > 5) box.firstChild.remove();
}

// Run an action: success and failure both shown; returns the result or undefined.
export async function act(promise, done, out) {
  try {
    const r = await promise;
    if (done) notify(typeof done === "function" ? done(r) : done, true);
    if (out) { out.textContent = ""; out.classList.remove("error"); }
    return r;
  } catch (err) {
    const text = `${t("ui.not_done")}: ${errorText(err)}`;
    notify(text, false);
    if (out) { out.textContent = text; out.classList.add("error"); }
    return undefined;
  }
}

// Sound, generated locally: no file, no network.
let audio = null;
export function beep(freq = 880, ms = 300) {
  try {
    audio ||= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const osc = audio.createOscillator(); const gain = audio.createGain();
    osc.frequency.value = freq; gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination); osc.start(); osc.stop(audio.currentTime + ms / 1000);
  } catch { /* no audio device, or autoplay blocked until the guard clicks */ }
}

// Photos are made small in the browser: a 4 MB phone photo becomes ~200 kB.
export async function resizedBase64(source, maxSide = 1280, quality = 0.85) {
  const bitmap = source instanceof Blob ? await createImageBitmap(source) : source;
  const w = bitmap.width || bitmap.videoWidth; const h = bitmap.height || bitmap.videoHeight;
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", quality).split(",", 2)[1];
}

// Words for a screening reason written by the desk (gate/visitors.py: VisitorDesk.screen).
export function screeningReason(text) {
  let m = text.match(/^watch list ([^/]+)\/(\S+): (.*)$/);
  if (m) return t("screen.watchlist", { list: m[1], entry: m[2], reason: m[3] });
  m = text.match(/^the same document was registered as (.+) on (\S+)$/);
  if (m) return t("screen.same_document", { name: m[1], day: m[2] });
  m = text.match(/^plate on watch list (\S+)$/);
  if (m) return t("screen.plate", { list: m[1] });
  m = text.match(/^face matches watch list entry (\S+) \(distance ([\d.]+)\)$/);
  if (m) return t("screen.face", { entry: m[1], distance: m[2] });
  if (text === "remote screening: hit") return t("screen.remote_hit");
  m = text.match(/^remote screening unavailable: (\S+)$/);
  if (m) return t("screen.remote_unavailable");
  m = text.match(/^remote screening gave (.*)$/);
  if (m) return t("screen.remote_odd", { answer: m[1] });
  return text;  // a reason this console does not know yet: shown as written
}

// A component of the health model or a device ("reader L1-in", "reader-loop-L1-in",
// "mqtt-sender", "perimeter walkway-cam") in words; the id of the device stays as it is.
export function deviceName(name) {
  if (!name) return "—";
  const m = String(name).match(/^(reader-loop|reader|camera|perimeter|relay)[ -](.+)$/);
  if (m) return `${t(`component.${m[1]}`)} ${m[2]}`;
  const key = `component.${String(name).replace(/ /g, "-")}`;
  return has(key) ? t(key) : name;
}

// A card as the roster wrote it: the stored key's form (hex, the fob's decimal, Wiegand-26)
// without the prefix that tells the forms apart.
export const cardText = (key) => String(key ?? "").replace(/^(hex|dec10|dec|w26):/, "");

// An audit row's details ({"note": "复位"} ...) in words: each key through the catalogue,
// yes/no for booleans, codes of the vocabulary as words.
export function auditDetails(details) {
  let d = details;
  if (typeof d === "string") { try { d = JSON.parse(d || "{}"); } catch { return d; } }
  if (!d || typeof d !== "object") return "";
  const value = (k, v) => {
    if (typeof v === "boolean") return t(v ? "ui.yes" : "ui.no");
    if (k === "card") return cardText(v);
    if (k === "screening" && has(`screening.${v}`)) return word("screening", v);
    if (k === "role" && has(`role.${v}`)) return word("role", v);
    if (k === "method" && has(`decided_by.${v}`)) return word("decided_by", v);
    if (k === "parts" && has(`picture_part.${v}`)) return word("picture_part", v);
    if (Array.isArray(v)) return v.map((x) => value(k, x)).join(state.lang === "zh-CN" ? "、" : ", ");
    if (v && typeof v === "object") return auditDetails(v);
    return String(v);
  };
  return Object.entries(d).map(([k, v]) => `${has(`detail.${k}`) ? t(`detail.${k}`) : k}: ${value(k, v)}`)
    .join(state.lang === "zh-CN" ? "；" : "; ");
}

// What an audit row is about: a named visit, person or alert, else the id as written.
export function auditTarget(r) {
  if (!r.target) return "";
  if (r.target_kind === "alert") return `${t("ui.target_alert")} ${word("alert", r.target_name)}`;
  if (r.target_kind && r.target_name) return `${t(`ui.target_${r.target_kind}`)} ${r.target_name}`;
  const m = String(r.target).match(/^(lane|reader|camera|place):(.+)$/);
  if (m) return `${t(`ui.target_${m[1]}`)} ${m[2]}`;
  return r.target;
}
