// Evidence and privacy: the event review (Frigate's review page, for a guard), the privacy
// page and its banner, a person's erasure (admins), and the audit log (admins, read-only).
import { $, act, api, auditDetails, auditTarget, codes, el, has, newestOnly, post, stamp, state, t, table, word } from "./core.js";
import { thumb } from "./snapshots.js";

const REVIEW_PAGE = 50;
const AUDIT_PAGE = 100;

const reasonOf = (e) => (e.type === "manual_open" ? `${t("reason.manual_open")}: ${e.reason}` : e.type === "system" ? word("alert", e.reason) : word("reason", e.reason));
const personLink = (e) => (e.person_id ? el("a", { href: `#people/${encodeURIComponent(e.person_id)}` }, e.person_name || e.person_id) : "—");

// The banner: admins on every page, everyone on the devices page, while biometrics lie in clear.
export function privacyBanner(page) {
  const me = state.me;
  const show = Boolean(me) && me.biometrics_encrypted === false && me.role !== "host" && (me.role === "admin" || page === "devices");
  $("#privacy-banner").hidden = !show;
  $("#privacy-banner-link").hidden = !me || me.role !== "admin";
}

// Event review ------------------------------------------------------------------------------------

export function reviewRow(e) {
  return el("tr", { class: e.decision === "deny" ? "deny" : "", "data-event": e.id },
    el("td", {}, thumb(e.snapshot)), el("td", {}, stamp(e.ts)), el("td", {}, e.lane || "—"),
    el("td", {}, word("direction", e.direction)), el("td", {}, personLink(e)), el("td", {}, word("method", e.method)),
    el("td", {}, el("span", { class: `verdict ${e.decision || "none"}` }, word("verdict", e.decision || "none"))),
    el("td", {}, `${word("event", e.type)} · ${reasonOf(e)}`));
}
export const reviewTable = (rows) => table(["", t("ui.time"), t("field.lane"), t("field.direction"), t("ui.who"), t("field.method"), t("ui.verdict"), t("field.reason")],
  rows.map(reviewRow), { class: "review" });

export async function loadReview(person) {
  const f = $("#review-form");
  const lane = f.elements.lane.value; const type = f.elements.type.value;
  f.elements.lane.replaceChildren(el("option", { value: "" }, t("ui.all_lanes")), ...state.me.lanes.map((l) => el("option", { value: l }, l)));
  f.elements.type.replaceChildren(el("option", { value: "" }, t("ui.all_types")), ...codes("event").map((c) => el("option", { value: c }, word("event", c))));
  f.elements.lane.value = lane; f.elements.type.value = type;
  if (person !== undefined) f.elements.person.value = person;
  f.onsubmit = (ev) => { ev.preventDefault(); showReview(); };
  await showReview();
}

// Paging by time: passages a millisecond apart share a timestamp, so the next page starts AT
// the last one shown ("~" sorts after every character of an RFC 3339 time, and the gate
// compares times as text), and rows already shown are dropped.
let shownIds = new Set();
const reviewTurn = newestOnly();
async function showReview(after) {
  const current = reviewTurn();
  const f = $("#review-form");
  const q = new URLSearchParams({ limit: String(REVIEW_PAGE) });
  for (const name of ["day", "lane", "type", "person"]) { const v = f.elements[name].value.trim(); if (v) q.set(name, v); }
  if (f.elements.with_snapshot.checked) q.set("with_snapshot", "true");
  if (after) q.set("before", after.stuck ? after.ts : `${after.ts}~`);
  const rows = await api(`/api/review?${q}`);
  if (!current()) return;
  const box = $("#review-table");
  if (!after) { shownIds = new Set(); box.replaceChildren(rows.length ? reviewTable([]) : el("p", { id: "review-none" }, t("ui.review_none"))); }
  const fresh = rows.filter((r) => !shownIds.has(r.id));
  // a whole page of one millisecond, all shown already: step past it
  if (after && !after.stuck && !fresh.length && rows.length === REVIEW_PAGE) { await showReview({ ts: after.ts, stuck: true }); return; }
  fresh.forEach((r) => shownIds.add(r.id));
  box.querySelector("tbody")?.append(...fresh.map(reviewRow));
  const more = $("#review-more");
  more.hidden = rows.length < REVIEW_PAGE;
  more.onclick = () => showReview({ ts: rows[rows.length - 1].ts });
}

// A person's passages with their thumbnails (an audited view of the person).
export async function personPassages(id) {
  const rows = await api(`/api/people/${encodeURIComponent(id)}/passages?limit=30`);
  return el("div", { id: "person-passages" },
    el("h3", {}, t("ui.recent"), " ", el("a", { href: `#review/${encodeURIComponent(id)}`, class: "small" }, t("ui.review_all"))),
    rows.length ? reviewTable(rows) : el("p", {}, t("ui.review_none")));
}

// Privacy -------------------------------------------------------------------------------------------

const CLASS_WORDS = { events: "data.events", alerts: "data.alerts", snapshots: "data.snapshots", encodings: "data.encodings",
  visitors: "data.visitors", visitor_photos: "data.visitor_photos", audit: "data.audit" };

const privacyTurn = newestOnly();
export async function loadPrivacy() {
  const current = privacyTurn();
  const p = await api("/api/privacy");
  if (!current()) return;
  $("#privacy-encryption").replaceChildren(el("span", { class: `badge ${p.encrypted ? "ok" : "bad"}`, id: "privacy-encrypted", "data-encrypted": String(p.encrypted) },
    t(p.encrypted ? "ui.encrypted_yes" : "ui.encrypted_no")), " ", t(p.encrypted ? "ui.encrypted_yes_help" : "ui.not_encrypted_help"));
  $("#privacy-table").replaceChildren(table([t("ui.data_class"), t("ui.retention_days"), t("ui.records"), t("ui.oldest"), t("ui.last_purge"), t("ui.purged")],
    p.retention.map((r) => el("tr", { "data-class": r.class },
      el("td", {}, CLASS_WORDS[r.class] ? t(CLASS_WORDS[r.class]) : r.class), el("td", {}, t("ui.days", { n: r.days })), el("td", {}, String(r.records)),
      el("td", {}, stamp(r.oldest)), el("td", {}, r.last_purge ? stamp(r.last_purge) : t("ui.never")), el("td", {}, r.removed ?? "—")))));
}

// Erasure (admins) ----------------------------------------------------------------------------------

const REMOVED_WORDS = { encodings: "ui.erased_encodings", snapshots: "ui.erased_snapshots", cards: "ui.erased_cards",
  passages_anonymised: "ui.erased_passages", alerts_anonymised: "ui.erased_alerts" };

export function eraseButton(id, name) {
  return el("p", { class: "actions" }, el("button", { type: "button", class: "danger", "data-action": "erase", onclick: () => askErase(id, name) }, t("ui.erase_person")));
}

function askErase(id, name) {
  const dialog = $("#erase-dialog"); const form = $("#erase-form"); const out = $("#erase-error");
  form.reset(); out.textContent = ""; $("#erase-name").textContent = name;
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (ev.submitter?.value === "cancel") { dialog.close(); return; }
    const reason = form.elements.reason.value.trim();
    if (reason.length < 2) { out.textContent = t("ui.reason_short"); return; }
    const r = await act(post(`/api/people/${encodeURIComponent(id)}/erase`, { reason }), t("ui.erased", { name }), out);
    if (!r) return;  // the dialog stays open and says why
    dialog.close();
    $("#person").replaceChildren(el("h2", {}, t("ui.erased", { name })),
      el("ul", { id: "erase-result" }, ...Object.entries(r.removed).map(([k, n]) => el("li", { "data-removed": k },
        REMOVED_WORDS[k] ? t(REMOVED_WORDS[k], { n }) : `${k}: ${n}`))),
      el("p", { class: "notice" }, t("ui.erased_help")));
  };
  dialog.showModal();
}

// Access report (admins): who looked at this person's data, when and why ------------------------------

export function accessReport(id) {
  const box = el("div", { id: "access-report" });
  const show = async () => {
    const rows = await api(`/api/people/${encodeURIComponent(id)}/access-report`);
    box.replaceChildren(rows.length ? table([t("ui.time"), t("ui.actor"), t("ui.action"), t("ui.target"), t("ui.why")], rows.map((r) => el("tr", { "data-action": r.action },
      el("td", {}, stamp(r.ts)), el("td", {}, r.actor), el("td", { title: r.action }, actionWords(r.action)), el("td", {}, r.target || ""),
      el("td", {}, whyWords(r))))) : el("p", {}, t("ui.access_none")));
  };
  return el("section", { class: "access" }, el("h3", {}, t("ui.access_report")),
    el("p", {}, el("button", { type: "button", "data-action": "access-report", onclick: show }, t("ui.access_show"))), box);
}

// A list view names its page; other rows carry the reason the person gave, if any.
const PAGE_WORDS = { live: "nav.live", review: "nav.review" };
const whyWords = (r) => (r.action === "list_viewed" && PAGE_WORDS[r.why] ? t("ui.seen_on", { page: t(PAGE_WORDS[r.why]) }) : r.why || "—");

// Audit log (admins, read-only) -----------------------------------------------------------------------

export const actionWords = (a) => (has(`audit.${a}`) ? t(`audit.${a}`) : a);

export async function loadAudit() {
  const f = $("#audit-form");
  const chosen = f.elements.action.value;
  f.elements.action.replaceChildren(el("option", { value: "" }, t("ui.all_actions")),
    ...codes("audit").map((a) => [a, actionWords(a)]).sort((x, y) => x[1].localeCompare(y[1], state.lang)).map(([a, w]) => el("option", { value: a }, w)));
  f.elements.action.value = chosen;
  f.onsubmit = (ev) => { ev.preventDefault(); showAudit(); };
  await showAudit();
}

const auditTurn = newestOnly();
async function showAudit(beforeId) {
  const current = auditTurn();
  const f = $("#audit-form");
  const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
  for (const name of ["action", "actor", "target"]) { const v = f.elements[name].value.trim(); if (v) q.set(name, v); }
  if (beforeId) q.set("before_id", String(beforeId));
  const rows = await api(`/api/audit/search?${q}`);
  if (!current()) return;
  const box = $("#audit-table");
  if (!beforeId) box.replaceChildren(table([t("ui.time"), t("ui.actor"), t("ui.action"), t("ui.target"), t("ui.detail")], []));
  box.querySelector("tbody").append(...rows.map((r) => el("tr", { "data-action": r.action },
    el("td", {}, stamp(r.ts)), el("td", {}, r.actor), el("td", { title: r.action }, actionWords(r.action)), el("td", { title: r.target || "" }, auditTarget(r)),
    el("td", { class: "details" }, auditDetails(r.details)))));
  const more = $("#audit-more");
  more.hidden = rows.length < AUDIT_PAGE;
  more.onclick = () => showAudit(rows[rows.length - 1].id);
}
