// The live page: lanes (state and manual open) always on top, the alert queue (grouped,
// filtered, most severe first), the bounded passage feed, and where alerts are on the map.
import { $, $$, act, api, beep, cardText, deviceName, el, errorText, notify, post, screeningReason, state, t, time, word } from "./core.js";
import { drawMap, mapData } from "./pages.js";
import { listedWho, openWatchHit, thumb } from "./snapshots.js";

export const FEED_MAX = 100;
let lanesTimer = null;
let queueTimer = null;
let groups = [];

export function stopLive() {
  clearInterval(lanesTimer); clearInterval(queueTimer); lanesTimer = queueTimer = null;
}

function personText(e) {
  const p = e.person;
  if (p) return `${p.name}${p.class ? ` · ${p.class}` : ""}`;
  if (e.details?.plate) return e.details.plate;
  if (e.details?.visitor) return t("ui.visitor");
  return "—";
}

export function reasonText(e) {
  if (e.type === "manual_open") return `${t("reason.manual_open")}: ${e.reason}`;
  if (e.type === "system") return word("alert", e.reason);
  return word("reason", e.reason);
}

export function feedRow(e, fresh = false) {
  const plate = e.details?.plate ? el("span", { class: "plate" }, e.details.plate) : "";
  return el("tr", { class: `${e.decision === "deny" ? "deny" : ""} ${fresh ? "fresh" : ""}`, "data-event": e.id },
    el("td", {}, thumb(e.snapshot)), el("td", {}, time(e.ts)), el("td", {}, e.lane || "—"), el("td", {}, word("direction", e.direction)),
    el("td", {}, personText(e), " ", e.person ? plate : ""), el("td", {}, word("method", e.method)),
    el("td", {}, el("span", { class: `verdict ${e.decision || "none"}` }, word("verdict", e.decision || "none"))),
    el("td", {}, `${word("event", e.type)} · ${reasonText(e)}`));
}

export async function loadLive() {
  const lanes = $("#lane-buttons");
  lanes.replaceChildren(...state.me.lanes.map((lane) => el("div", { class: "lane", "data-lane-card": lane },
    el("strong", {}, lane), el("span", { class: "lane-state", "data-lane-state": lane }, "…"),
    el("button", { type: "button", class: "open-btn", "data-lane": lane, onclick: () => askOpen(lane) }, `${t("ui.manual_open")} ${lane}`))));
  $("#bulk-form").onsubmit = bulkAck;
  for (const id of ["#alert-filter-severity", "#alert-filter-type", "#alert-filter-text"]) $(id).oninput = renderQueue;
  await Promise.all([refreshFeed(), loadQueue(), loadLaneStates(), loadLiveMap()]);
  stopLive();
  lanesTimer = setInterval(loadLaneStates, 5000);
  queueTimer = setInterval(loadQueue, 10000);
}

// The feed as the gate has it, with what the WebSocket brought since on top. Asked when the
// page opens and each time the WebSocket (re)connects: a passage made while the socket was
// still opening, or away, would otherwise be missing until the guard reloads the page.
export async function refreshFeed() {
  const shown = new Set($$("#feed tbody tr"));  // rows from before this load: replaced by it
  const events = await api(`/api/events?limit=${FEED_MAX}`);
  const body = $("#feed tbody");
  if (!body) return;
  const known = new Set(events.map((e) => e.id));
  // rows the WebSocket brought (liveMessage marks them fresh) during this load, not in it
  const since = $$("tr.fresh", body).filter((row) => !shown.has(row) && !known.has(row.dataset.event));
  body.replaceChildren(...since, ...events.map((e) => feedRow(e)));
  while (body.children.length > FEED_MAX) body.lastChild.remove();  // bounded feed
}

async function loadLaneStates() {
  if (!state.me || $("#page-live").hidden) return;
  let d;
  try { d = await api("/api/devices"); } catch { return; }
  for (const r of d.relays) {
    const n = document.querySelector(`[data-lane-state="${CSS.escape(r.lane)}"]`);
    if (!n) continue;
    const key = d.fire_alarm.released ? "ui.lane_fire" : r.held ? "ui.lane_held" : r.open ? "ui.lane_open" : "ui.lane_closed";
    n.textContent = t(key); n.className = `lane-state ${key.slice(8)}`;
  }
}

// Called by app.js for every message on the WebSocket.
export function liveMessage(e) {
  if (e.alerts?.length) loadQueue();
  if (e.type === "system") return;  // an alert without a passage: the queue shows it
  const body = $("#feed tbody");
  if (!body) return;
  body.prepend(feedRow(e, true));
  while (body.children.length > FEED_MAX) body.lastChild.remove();  // bounded feed
}

// Alerts -----------------------------------------------------------------------------------

// What an alert is about, in words: who, which face, plate, card, reasons, place, device.
export function alertWhat(g) {
  const d = g.details || {};
  const bits = [];
  if (d.original_type) bits.push(t("ui.escalated_of", { what: word("alert", d.original_type) }));
  if (d.visitor?.name) bits.push(`${t("ui.visitor")} ${d.visitor.name}`);
  if (g.person_name) bits.push(`${g.person_name}${g.class ? ` · ${g.class}` : ""}`);
  if (d.face_identified_name) bits.push(t("ui.face_was", { name: d.face_identified_name, distance: d.distance ?? d.face_distance ?? "?" }));
  if (d.plate) bits.push(`${t("field.plate")} ${d.plate}`);
  if (d.listed_plate && d.listed_plate !== d.plate) bits.push(`${t("ui.listed")} ${d.listed_plate}`);
  if (d.card) bits.push(`${t("field.card")} ${cardText(d.card)}`);
  if (d.reason && !(d.list && d.entry_id)) bits.push(`${t("ui.listing_reason")}: ${d.reason}`);
  if (d.reasons) bits.push(...d.reasons.map((r) => screeningReason(r)));
  if (d.people !== undefined) bits.push(t("ui.people_through", { people: d.people, authorised: d.authorised }));
  if (d.zone) bits.push(d.zone);
  if (d.device) bits.push(deviceName(d.device));
  if (d.component) bits.push(deviceName(d.component));
  return bits.join(" · ");
}

async function loadQueue() {
  if (!state.me || $("#page-live").hidden) return;
  let q;
  try { q = await api("/api/alerts/queue"); } catch { return; }
  groups = q.groups;
  const types = [...new Set(groups.map((g) => g.type))];
  const typeSel = $("#alert-filter-type");
  const chosen = typeSel.value;
  typeSel.replaceChildren(el("option", { value: "" }, t("ui.all_types")), ...types.map((ty) => el("option", { value: ty }, word("alert", ty))));
  typeSel.value = types.includes(chosen) ? chosen : "";
  renderQueue();
  $("#handled").replaceChildren(...q.handled.map((a) => el("li", {},
    `${time(a.acknowledged_at || a.police_ack_at)} ${word("alert", a.type)} ${a.lane || ""} ${a.person_name || ""}`,
    a.acknowledged_by ? el("span", { class: "badge" }, `${t("ui.acked_by", { who: a.acknowledged_by })}: ${a.ack_note}`) : "",
    a.police_ack_at ? el("span", { class: "badge police" }, `${t("ui.police_ack", { who: a.police_ack_by || "" })}${a.police_ack_note ? `: ${a.police_ack_note}` : ""}`) : "")));
  markMap();
}

// The queue is redrawn every 10 s: its thumbnails are kept, not fetched (and audited) again.
const alertThumbs = new Map();
function alertThumb(id) {
  if (!alertThumbs.has(id)) alertThumbs.set(id, thumb(id));
  return alertThumbs.get(id);
}

export function renderQueue() {
  const open = new Set(groups.map((g) => g.snapshot));
  for (const id of alertThumbs.keys()) if (!open.has(id)) alertThumbs.delete(id);
  const sev = $("#alert-filter-severity").value;
  const ty = $("#alert-filter-type").value;
  const text = $("#alert-filter-text").value.trim().toLowerCase();
  const shown = groups.filter((g) => (!sev || g.severity === sev) && (!ty || g.type === ty)
    && (!text || `${word("alert", g.type)} ${g.lane || ""} ${alertWhat(g)}`.toLowerCase().includes(text)));
  const total = groups.reduce((n, g) => n + g.count, 0);
  $("#alert-count").textContent = t("ui.alerts_open", { n: total, groups: groups.length });
  // The queue is redrawn every 10 s and on every new alert: a note the guard is typing
  // (and where the cursor was) must survive that, or the acknowledgement goes out empty.
  const typed = new Map([...$("#alerts-open").querySelectorAll(".alert")].map((d) => [d.dataset.group, d.querySelector("input.ack-note")?.value || ""]));
  const focused = document.activeElement?.classList.contains("ack-note") ? document.activeElement.closest(".alert")?.dataset.group : undefined;
  $("#alerts-open").replaceChildren(...shown.map((g) => {
    const note = el("input", { class: "ack-note", "data-i18n-placeholder": "ui.ack_note", placeholder: t("ui.ack_note"), "aria-label": t("ui.ack_note"), maxlength: "500" });
    note.value = typed.get(g.key) || "";
    const out = el("span", { class: "ack-out", role: "status" });
    const where = g.lane ? el("button", { type: "button", class: "where", onclick: () => markMap(g.lane) }, `${t("ui.where")} ${g.lane}`) : "";
    return el("div", { class: `alert ${g.severity}`, "data-alert": g.ids[0], "data-group": g.key, "data-count": g.count },
      g.snapshot ? alertThumb(g.snapshot) : "",
      el("span", { class: "sev" }, word("severity", g.severity)),
      el("strong", {}, word("alert", g.type)),
      g.count > 1 ? el("span", { class: "count", title: t("ui.repeats") }, `×${g.count}`) : "",
      g.type === "watchlist_face" ? listedWho(g.details || {}) : "",
      el("span", {}, `${g.lane || ""} ${alertWhat(g)}`),
      g.type === "watchlist_face" ? el("button", { type: "button", class: "compare", "data-compare": g.ids[0], onclick: () => openWatchHit(g.ids[0]) }, t("ui.watch_compare")) : "",
      el("span", { class: "when" }, g.count > 1 ? t("ui.last_at", { time: time(g.last) }) : time(g.last)),
      g.escalated ? el("span", { class: "badge bad" }, t("ui.escalated")) : "",
      where, note,
      el("button", { type: "button", class: "ack", onclick: async () => {
        const why = note.value.trim();
        if (!why) { out.textContent = t("ui.note_required"); out.classList.add("error"); note.focus(); notify(t("ui.note_required"), false); return; }
        const r = await act(post("/api/alerts/ack", { ids: g.ids, note: why }), (x) => t("ui.acked", { n: x.count }), out);
        if (r) loadQueue();
      } }, g.count > 1 ? t("ui.ack_all", { n: g.count }) : t("ui.ack")), out);
  }));
  if (focused !== undefined) $("#alerts-open").querySelector(`.alert[data-group="${CSS.escape(focused)}"] input.ack-note`)?.focus();
  const crit = shown.some((g) => g.severity === "critical");
  if (crit && !renderQueue.beeped) { beep(); renderQueue.beeped = true; }
  if (!crit) renderQueue.beeped = false;
}

export async function bulkAck(ev) {
  ev.preventDefault();
  const f = ev.target;
  const note = f.elements.note.value.trim();
  const out = $("#bulk-out");
  if (!note) { out.textContent = t("ui.note_required"); out.classList.add("error"); notify(t("ui.note_required"), false); return; }
  const r = await act(post("/api/alerts/bulk-ack", { max_severity: f.elements.max_severity.value, note }), (x) => t("ui.acked", { n: x.count }), out);
  if (r) { f.reset(); loadQueue(); }
}

// Map ----------------------------------------------------------------------------------------

async function loadLiveMap() {
  const box = $("#live-map");
  let m;
  try { m = await mapData(); } catch { box.hidden = true; return; }
  box.hidden = !m.image;
  if (m.image) drawMap(box, m, false);
  markMap();
}

function markMap(focus) {
  const box = $("#live-map");
  if (box.hidden) return;
  box.querySelectorAll(".marker").forEach((n) => { n.classList.remove("alerting", "focus"); n.dataset.count = ""; });
  for (const g of groups) {
    const n = g.lane && box.querySelector(`.marker[data-kind="lane"][data-ref="${CSS.escape(g.lane)}"]`);
    if (!n) continue;
    n.classList.add("alerting");
    n.dataset.count = String((Number(n.dataset.count) || 0) + g.count);
    n.title = `${g.lane}: ${n.dataset.count}`;
  }
  if (focus) {
    const n = box.querySelector(`.marker[data-kind="lane"][data-ref="${CSS.escape(focus)}"]`);
    if (n) { n.classList.add("focus"); box.scrollIntoView({ block: "nearest" }); } else notify(t("ui.not_on_map", { place: focus }), false);
  }
}

// Manual open ----------------------------------------------------------------------------------

function askOpen(lane) {
  const dialog = $("#open-dialog"); $("#open-lane").textContent = lane;
  const form = $("#open-form"); form.reset();
  const out = $("#open-error"); out.textContent = "";
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (ev.submitter?.value === "cancel") { dialog.close(); return; }
    const reason = form.reason.value.trim();
    if (reason.length < 2) { out.textContent = t("ui.reason_short"); return; }
    try {
      const d = await post(`/api/lanes/${encodeURIComponent(lane)}/open`, { reason });
      dialog.close();
      notify(d.opened ? t("ui.opened", { lane }) : t("ui.not_opened", { lane }), d.opened);
    } catch (err) {
      out.textContent = `${t("ui.not_opened", { lane })}: ${errorText(err)}`;  // the dialog stays open
      notify(out.textContent, false);
    }
  };
  dialog.showModal();
}
