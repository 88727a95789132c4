// The other pages: roll call, people, attendance, vehicles and watch lists, campus map,
// devices, users.
import { $, act, api, cardText, del, deviceName, el, errorText, newestOnly, notify, post, put, resizedBase64, stamp, state, t, table, time, word } from "./core.js";
import { accessReport, eraseButton, personPassages } from "./evidence.js";

// Roll call ------------------------------------------------------------------------------------

const rollcallTurn = newestOnly();
export async function loadRollcall() {
  const current = rollcallTurn();
  const r = await api("/api/rollcall");
  if (!current()) return;
  const byClass = new Map();
  for (const p of r.pupils) byClass.set(p.class || "—", [...(byClass.get(p.class || "—") || []), p]);
  const personRows = (list) => list.map((p) => el("tr", {}, el("td", {}, p.name), el("td", {}, time(p.last_passage)), el("td", {}, p.lane || "—"), el("td", { class: "tick" }, "☐")));
  const heads = [t("field.name"), t("ui.last_passage"), t("field.lane"), t("ui.checked")];
  $("#rollcall").replaceChildren(
    el("h2", {}, t("ui.rollcall_title", { at: stamp(r.at) })),
    el("p", { id: "rollcall-summary" }, t("ui.rollcall_summary", { pupils: r.pupils.length, staff: r.staff.length, visitors: r.visitors.length })),
    el("p", { class: "no-print" }, el("button", { type: "button", onclick: () => window.print() }, t("ui.print"))),
    ...[...byClass.entries()].flatMap(([cls, list]) => [el("h3", {}, `${t("field.class")} ${cls} (${list.length})`), table(heads, personRows(list), { class: "rollcall-class" })]),
    el("h3", {}, `${t("ui.staff")} (${r.staff.length})`), table(heads, personRows(r.staff)),
    el("h3", {}, `${t("nav.visitors")} (${r.visitors.length})`),
    table([t("field.name"), t("ui.host"), t("ui.status"), t("ui.last_passage"), t("ui.place"), t("ui.checked")], r.visitors.map((v) => el("tr", {},
      el("td", {}, v.name), el("td", {}, v.host), el("td", {}, word("visitor", v.status)), el("td", {}, time(v.last_passage)),
      el("td", {}, v.place === "desk" ? t("ui.desk") : v.place || "—"), el("td", { class: "tick" }, "☐")))));
}

// People ---------------------------------------------------------------------------------------

const peopleTurn = newestOnly();

export async function loadPeople(q = "") {
  $("#person").replaceChildren();
  $("#people-search").onsubmit = (ev) => { ev.preventDefault(); loadPeople(ev.target.q.value); };
  const current = peopleTurn();
  const people = await api(`/api/people?q=${encodeURIComponent(q)}`);
  if (!current()) return;
  $("#people-list").replaceChildren(table([t("field.name"), t("field.class"), t("ui.role")], people.map((p) => el("tr", {},
    el("td", {}, el("a", { href: `#people/${encodeURIComponent(p.id)}` }, p.name)), el("td", {}, p.class || "—"), el("td", {}, word("role", p.role))))));
}

export async function loadPerson(id) {
  const current = peopleTurn();  // a people list still on its way is not drawn over this person's page
  $("#people-list").replaceChildren();
  const box = $("#person");
  box.replaceChildren();  // never leave the previous person on screen under this URL
  let p;
  try { p = await api(`/api/people/${encodeURIComponent(id)}`); } catch (err) {
    if (current()) box.replaceChildren(el("p", { class: "error", role: "alert", id: "person-error" }, errorText(err)));
    return;
  }
  if (!current()) return;
  const minutes = el("input", { type: "number", value: "60", min: "5", max: "600", "aria-label": t("field.minutes") });
  const why = el("input", { name: "reason", placeholder: t("field.reason"), "aria-label": t("field.reason"), maxlength: "200" });
  const result = el("span", { role: "status" });
  box.replaceChildren(
    el("h2", {}, `${p.name} · ${p.class || word("role", p.role)}`),
    personStatus(p),
    el("p", {}, `${t("ui.guardians")}: ${p.guardians.map((g) => `${g.name} ${g.phone}`).join(", ") || "—"}`),
    el("p", {}, `${t("ui.cards")}: ${p.cards.map((c) => cardText(c.card_key)).join(", ") || "—"}`),
    el("form", { id: "exit-form", onsubmit: async (ev) => {
      ev.preventDefault();
      if (why.value.trim().length < 2) { result.textContent = t("ui.reason_short"); result.className = "error"; return; }
      const r = await act(post(`/api/people/${encodeURIComponent(id)}/exit-permissions`, { minutes: Number(minutes.value), reason: why.value.trim() }),
        (x) => `${t("ui.granted")} ${time(x.valid_until)}`, result);
      if (r) { result.className = ""; result.textContent = `${t("ui.granted")} ${time(r.valid_until)}`; }
    } }, minutes, ` ${t("field.minutes")} `, why, el("button", {}, t("ui.exit_permission")), " ", result),
    state.me.role === "admin" ? faceLibrary(id, p) : "",
    state.me.role === "admin" ? eraseButton(id, p.name) : "",
    state.me.role === "admin" ? accessReport(id) : "",
    await personPassages(id));
}

const personStatus = (p) => el("p", { id: "person-status" }, el("span", { class: `badge ${p.on_campus ? "ok" : ""}` }, t(p.on_campus ? "ui.on_campus" : "ui.off_campus")),
  ` ${t("ui.consent")}: ${t(p.face_consent ? "ui.yes" : "ui.no")} · ${t("ui.face_enrolled")}: ${t(p.face_enrolled ? "ui.yes" : "ui.no")}`);
async function refreshStatus(id) {
  try { $("#person-status").replaceWith(personStatus(await api(`/api/people/${encodeURIComponent(id)}`))); } catch { /* the verdict already says what happened */ }
}

// The face library (admins): enrol or replace with consent recorded, the quality verdict, the
// enrolled photos one by one, remove. A face that matches another enrolled person is refused
// until the admin writes why it is right (twins, a sibling): audited.
function faceLibrary(id, p) {
  const file = el("input", { type: "file", name: "face-photo", accept: "image/jpeg,image/png", "aria-label": t("field.photo") });
  const consent = el("input", { type: "checkbox", name: "consent", checked: p.face_consent });
  const verdict = el("p", { id: "face-verdict", role: "status" });
  const reason = el("input", { name: "confirm-reason", maxlength: "500", "aria-label": t("ui.confirm_reason"), placeholder: t("ui.confirm_reason") });
  const confirmBox = el("p", { class: "actions", id: "face-confirm", hidden: true }, reason);
  const photos = el("div", { id: "face-photos" });
  // One request at a time from this page: every button waits while one runs (a double
  // click must not send the photo twice), and the answer shown is that request's own.
  const buttons = [];
  const once = (work) => async () => {
    if (buttons.some((b) => b.disabled)) return;
    buttons.forEach((b) => { b.disabled = true; });
    verdict.setAttribute("aria-busy", "true");
    try { await work(); } finally {
      buttons.forEach((b) => { b.disabled = false; });
      verdict.removeAttribute("aria-busy");
    }
  };
  let lastReplace = false;
  const loadPhotos = async () => {
    let rows = [];
    try { rows = await api(`/api/people/${encodeURIComponent(id)}/faces`); } catch { return; }
    photos.replaceChildren(rows.length ? table([t("ui.time"), t("field.photo"), t("ui.quality"), ""], rows.map((f) => el("tr", { "data-face": f.id },
      el("td", {}, stamp(f.enrolled_at)), el("td", {}, f.photo || "—"),
      el("td", {}, [f.verdict ? t(`ui.quality_${f.verdict}`) : "—", ...(f.reasons || [])].join(" · ")),
      el("td", {},
        f.photo_kept ? el("a", { href: `/api/people/${encodeURIComponent(id)}/faces/${f.id}/photo`, target: "_blank", rel: "noopener" }, t("ui.open_photo")) : "",
        " ",
        el("button", { type: "button", class: "danger", "data-action": "remove-one", onclick: once(async () => {
          if (await act(del(`/api/people/${encodeURIComponent(id)}/faces/${f.id}`), t("ui.face_removed", { n: 1 }), verdict)) { await loadPhotos(); refreshStatus(id); }
        }) }, t("ui.remove")))))) : el("p", { class: "muted" }, t("ui.no_faces_enrolled")));
  };
  const send = (replace, confirm = "") => once(async () => {
    if (!file.files[0]) { verdict.textContent = t("ui.choose_photo"); verdict.className = "error"; return; }
    if (!consent.checked) { verdict.textContent = t("error.consent_required"); verdict.className = "error"; return; }
    let photo;
    try { photo = await resizedBase64(file.files[0]); } catch { verdict.textContent = t("error.photo"); verdict.className = "error"; return; }
    lastReplace = replace;
    const r = await act(post(`/api/people/${encodeURIComponent(id)}/face`, { photo, consent: true, replace, confirm_reason: confirm }), null, verdict);
    if (!r) return;
    confirmBox.hidden = r.outcome !== "refused";
    verdict.className = r.outcome === "enrolled" || r.outcome === "unchanged" ? "" : "error";
    if (r.outcome === "refused") {
      verdict.textContent = t("ui.enrol_refused", { name: r.match.name, id: r.match.person_id, closeness: t(`ui.closeness_${r.match.closeness}`), distance: r.match.distance.toFixed(2) });
      reason.focus();
      return;
    }
    const head = r.outcome === "enrolled" && r.quality === "warn" ? "ui.enrol_enrolled_warn" : `ui.enrol_${r.outcome.replace("-", "_")}`;
    verdict.textContent = [t(head), r.reason, r.warning ? `${t("ui.enrol_warning")}: ${r.warning}` : ""].filter(Boolean).join(" · ");
    reason.value = "";
    refreshStatus(id);
    loadPhotos();
  });
  const confirmButton = el("button", { type: "button", "data-action": "confirm", onclick: () => {
    if (reason.value.trim().length < 2) { verdict.textContent = t("error.note_required"); verdict.className = "error"; reason.focus(); return undefined; }
    return send(lastReplace, reason.value.trim())();
  } }, t("ui.enrol_anyway"));
  confirmBox.append(" ", confirmButton);
  buttons.push(
    el("button", { type: "button", "data-action": "enrol", onclick: send(false) }, t("ui.enrol")),
    el("button", { type: "button", "data-action": "replace", onclick: send(true) }, t("ui.replace_face")),
    el("button", { type: "button", class: "danger", "data-action": "remove-face", onclick: once(async () => {
      const r = await act(del(`/api/people/${encodeURIComponent(id)}/face`), (x) => t("ui.face_removed", { n: x.removed }), verdict);
      if (r) { verdict.className = ""; verdict.textContent = t("ui.face_removed", { n: r.removed }); refreshStatus(id); loadPhotos(); }
    }) }, t("ui.remove_face")),
    confirmButton);
  loadPhotos();
  return el("div", { class: "face-library", id: "face-library" },
    el("h3", {}, t("ui.face_library")),
    el("p", { class: "actions" }, file, el("label", {}, consent, " ", t("ui.consent_on_file"))),
    el("p", { class: "actions" }, ...buttons.slice(0, 3)),
    verdict, confirmBox, photos);
}

export const feedTable = (rows) => table(["", t("ui.time"), t("field.lane"), t("field.direction"), t("ui.who"), t("field.method"), t("ui.verdict"), t("field.reason")], rows);

// Attendance -----------------------------------------------------------------------------------

const attendanceTurn = newestOnly();

export async function loadAttendance(date) {
  $("#att-form").onsubmit = (ev) => { ev.preventDefault(); loadAttendance(ev.target.date.value); };
  const q = date ? `?date=${date}` : "";
  const current = attendanceTurn();
  const data = await api(`/api/attendance${q}`);
  if (!current()) return;
  $("#att-csv").href = `/api/attendance.csv${q}`;
  $("#att-summary").textContent = t("ui.att_summary", { date: data.date, late: data.late.length, absent: data.absent.length });
  $("#att-table").replaceChildren(table([t("field.name"), t("field.class"), t("ui.arrived"), t("ui.left"), t("ui.status")], data.rows.map((r) => el("tr", {},
    el("td", {}, r.name), el("td", {}, r.class_name), el("td", {}, time(r.first_arrival)), el("td", {}, time(r.last_departure)),
    el("td", {}, [r.on_campus ? t("ui.on_campus") : "", r.late ? t("ui.late") : "", r.absent ? t("ui.absent") : ""].filter(Boolean).join(" ") || "—")))));
}

// Vehicles and watch lists ---------------------------------------------------------------------------

const vehiclesTurn = newestOnly();

export async function loadVehicles() {
  const admin = state.me.role === "admin";
  // The forms are wired before the lists arrive: an admin who registers at once is not lost.
  if (admin) wireVehicleForms();
  const current = vehiclesTurn();
  const [vehicles, wl] = await Promise.all([api("/api/vehicles"), api("/api/watchlists")]);
  if (!current()) return;
  $("#veh-table").replaceChildren(table([t("field.plate"), t("field.kind"), t("ui.owner"), t("ui.valid_until"), t("field.note")], vehicles.map((v) => el("tr", {},
    el("td", {}, el("span", { class: "plate" }, v.plate)), el("td", {}, word("kind", v.kind)), el("td", {}, v.owner_name || v.owner_id || "—"),
    el("td", {}, v.valid_until ? stamp(v.valid_until) : t("ui.no_end")), el("td", {}, v.note || "")))));
  $("#wl-table").replaceChildren(table([t("ui.list"), t("ui.source"), t("ui.version"), t("ui.entries"), t("ui.received")], wl.lists.map((l) => el("tr", {},
    el("td", {}, l.name === "local" ? t("ui.local_list") : l.name), el("td", {}, l.source), el("td", {}, l.version || "—"), el("td", {}, String(l.entries)), el("td", {}, stamp(l.received_at))))));
  const remove = (path, label) => (admin ? el("button", { type: "button", class: "danger", "data-delete": label, onclick: async () => {
    if (await act(del(path), t("ui.removed", { what: label }))) loadVehicles();
  } }, t("ui.delete")) : "");
  $("#wl-persons").replaceChildren(table([t("ui.list"), t("field.name"), t("field.id_number"), t("ui.listing_reason"), t("ui.photo_listed"), ""], wl.persons.map((p) => el("tr", {},
    el("td", {}, p.list === "local" ? t("ui.local_list") : p.list), el("td", {}, p.name), el("td", {}, p.id_number || "—"), el("td", {}, p.reason || "—"),
    el("td", {}, t(p.photo ? "ui.yes" : "ui.no")),
    el("td", {}, p.list === "local" ? remove(`/api/watchlists/local/persons/${encodeURIComponent(p.entry_id)}`, p.name) : "")))));
  $("#wl-plates").replaceChildren(table([t("ui.list"), t("field.plate"), t("ui.listing_reason"), ""], wl.plates.map((p) => el("tr", {},
    el("td", {}, p.list === "local" ? t("ui.local_list") : p.list), el("td", {}, el("span", { class: "plate" }, p.plate)), el("td", {}, p.reason || "—"),
    el("td", {}, p.list === "local" ? remove(`/api/watchlists/local/plates/${encodeURIComponent(p.plate)}`, p.plate) : "")))));
}

function wireVehicleForms() {
  const submit = (form, path, body, done) => { form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (await act(post(path, body(form)), done, form.querySelector(".out"))) { form.reset(); loadVehicles(); }
  }; };
  $("#veh-add").onsubmit = registerVehicle;
  submit($("#wl-add-plate"), "/api/watchlists/local/plates", (f) => ({ plate: f.elements.plate.value, reason: f.elements.reason.value }), t("ui.saved"));
  submit($("#wl-add-person"), "/api/watchlists/local/persons", (f) => ({ name: f.elements.name.value, id_type: f.elements.id_type.value, id_number: f.elements.id_number.value, reason: f.elements.reason.value }), t("ui.saved"));
}

// A plate registered already is replaced only after the admin is shown whose it is and says yes.
async function registerVehicle(ev) {
  ev.preventDefault();
  const f = ev.target; const out = f.querySelector(".out");
  const body = { plate: f.elements.plate.value, kind: f.elements.kind.value, owner_id: f.elements.owner_id.value.trim() || null,
    days: f.elements.days.value ? Number(f.elements.days.value) : null, note: f.elements.note.value };
  let r;
  try { r = await post("/api/vehicles", body); } catch (err) {
    const cur = err?.code === "plate_registered" ? err.body.current : null;
    if (!cur) { await act(Promise.reject(err), null, out); return; }
    const ask = t("ui.plate_replace_ask", { plate: cur.plate, owner: cur.owner_name || cur.owner_id || t("ui.no_owner"),
      kind: word("kind", cur.kind), note: cur.note || "—" });
    if (!window.confirm(ask)) { out.textContent = t("ui.plate_kept", { plate: cur.plate }); out.classList.remove("error"); return; }
    r = await act(post("/api/vehicles", { ...body, replace: true }), null, out);
    if (!r) return;
  }
  notify(t("ui.saved"), true); out.textContent = ""; f.reset(); loadVehicles();
}

// Campus map -------------------------------------------------------------------------------------

export const mapData = () => api("/api/map");

export function drawMap(box, m, editable, onPick) {
  const img = el("img", { src: `/api/map/image?v=${encodeURIComponent(m.updated_at || "")}`, alt: t("nav.map"), draggable: "false" });
  const frame = el("div", { class: "map-frame" }, img, ...m.points.map((p) => {
    const n = el("span", { class: `marker ${p.kind}`, "data-kind": p.kind, "data-ref": p.ref, title: `${word("place", p.kind)} ${p.ref}` }, p.ref);
    n.style.left = `${p.x * 100}%`; n.style.top = `${p.y * 100}%`;  // CSSOM: allowed by the CSP, a style attribute is not
    return n;
  }));
  if (editable) frame.addEventListener("click", (ev) => {
    const r = img.getBoundingClientRect();
    onPick(Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height)));
  });
  box.replaceChildren(frame);
}

const mapTurn = newestOnly();
export async function loadMap() {
  const current = mapTurn();
  const m = await mapData();
  if (!current()) return;
  const admin = state.me.role === "admin";
  const out = $("#map-out");
  const places = Object.entries(m.places).flatMap(([kind, refs]) => refs.map((ref) => [kind, ref]));
  const pick = $("#map-place");
  pick.replaceChildren(...places.map(([kind, ref]) => el("option", { value: `${kind}/${ref}` }, `${word("place", kind)} ${ref}`)));
  $("#map-admin").hidden = !admin;
  $("#map-help").textContent = m.image ? (admin ? t("ui.map_help") : "") : t("ui.map_none");
  const box = $("#map-box");
  if (m.image) drawMap(box, m, admin, async (x, y) => {
    const [kind, ref] = pick.value.split("/");
    if (await act(put(`/api/map/points/${kind}/${encodeURIComponent(ref)}`, { x, y }), t("ui.placed", { place: `${word("place", kind)} ${ref}` }), out)) loadMap();
  });
  else box.replaceChildren();
  $("#map-upload").onchange = async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    let image;
    try { image = await resizedBase64(file, 2000, 0.85); } catch { out.textContent = t("error.map_image"); return; }
    if (await act(put("/api/map/image", { image }), t("ui.saved"), out)) loadMap();
  };
  $("#map-unplace").onclick = async () => {
    const [kind, ref] = pick.value.split("/");
    if (await act(del(`/api/map/points/${kind}/${encodeURIComponent(ref)}`), t("ui.removed", { what: ref }), out)) loadMap();
  };
}

// Devices ----------------------------------------------------------------------------------------

let devicesTimer = null;
export function stopDevices() { clearInterval(devicesTimer); devicesTimer = null; }

// Each device's state in words, how bad it is (ok, warning, fault) and when it last delivered;
// the page refreshes itself every 5 s while it is shown.
export async function loadDevices() {
  await showDevices();
  stopDevices();
  devicesTimer = setInterval(() => { if ($("#page-devices")?.hidden) stopDevices(); else showDevices().catch(() => {}); }, 5000);
}

// The fire input's detail: a fault of the input (a cut wire) told apart from a fire.
const fireDetail = (f) => [f.fault ? t(f.released ? "ui.fire_fault" : "ui.fire_fault_hold") : "",
  f.released && !f.fault ? t(f.cause === "fire_input_fault" ? "ui.fire_fault_released" : "ui.fire_released") : "",
  f.error || ""].filter(Boolean).join(" · ");

const ago = (s) => (s === null || s === undefined ? t("ui.no_activity") : t("ui.seconds_ago", { n: Math.round(s) }));

const devicesTurn = newestOnly();
async function showDevices() {
  const current = devicesTurn();
  const d = await api("/api/devices");
  if (!current()) return;
  const badge = (x) => el("span", { class: `badge ${x.level === "ok" ? "ok" : x.level === "warning" ? "warn" : "bad"}`, "data-level": x.level }, word("device_state", x.state));
  const row = (what, name, x, last, detail) => el("tr", { "data-device": name, "data-state": x.state },
    el("td", {}, what), el("td", {}, name), el("td", {}, badge(x)), el("td", {}, last), el("td", {}, detail || ""));
  const fire = d.fire_alarm;
  $("#devices-table").replaceChildren(table([t("ui.device"), t("ui.device_name"), t("ui.status"), t("ui.last_activity"), t("ui.detail")], [
    ...d.readers.map((r) => row(t("ui.reader"), r.id, r, `${t("ui.last_read")} ${ago(r.last_read_s_ago)}`, `${r.port} · ${t("ui.reads", { n: r.reads, bad: r.bad_frames })} ${r.error || ""}`)),
    ...d.cameras.map((c) => row(t("ui.camera"), c.id, c, `${t("ui.last_frame")} ${ago(c.last_frame_s_ago)}`, `${t("ui.fps", { fps: c.fps })} · ${t("ui.analysed", { fps: c.analysed_fps })} ${c.error && c.state !== "no_report" ? c.error : ""}`)),
    ...d.relays.map((r) => row(t("ui.relay"), r.lane, r, "", word("relay_kind", r.kind))),
    row(t("ui.fire_input"), fire.configured ? word("fire_kind", fire.kind) : "—", fire, "", fire.configured || fire.fault || fire.released ? fireDetail(fire) : t("ui.fire_none_help")),
    row(t("ui.broker"), `${d.broker.host}:${d.broker.port}`, d.broker, "",
      `${t("ui.outbox", { pending: d.broker.pending, sent: d.broker.sent })} ${d.broker.error || ""}`),
    ...(d.components || []).map((c) => row(t("ui.component"), deviceName(c.name), c, "", `${c.critical ? t("ui.critical_part") : ""} ${t("ui.restarts", { n: c.restarts })} ${c.error || ""}`))]));
  const kept = $("#fire-reset form");
  if (kept && kept.dataset.lang === state.lang && kept.elements.note.value) return;  // a note being typed survives the refresh
  const note = el("input", { name: "note", placeholder: t("ui.fire_note"), "aria-label": t("ui.fire_note"), maxlength: "500" });
  const result = el("span", { id: "fire-reset-result", role: "status" });
  $("#fire-reset").replaceChildren(el("form", { "data-lang": state.lang, onsubmit: async (ev) => {
    ev.preventDefault();
    if (note.value.trim().length < 2) { result.textContent = t("ui.note_required"); result.className = "error"; return; }
    if (await act(post("/api/fire/reset", { note: note.value.trim() }), t("ui.fire_reset_done"), result)) { note.value = ""; showDevices(); }
  } }, el("strong", {}, t("ui.fire_reset")), " ", note, " ", el("button", {}, t("ui.reset")), " ", result));
}

// Users ----------------------------------------------------------------------------------

const usersTurn = newestOnly();
export async function loadUsers() {
  const f = $("#user-add");
  f.onsubmit = async (ev) => {  // wired before the lists arrive, like the vehicle forms
    ev.preventDefault();
    const r = await act(post("/api/users", { username: f.elements.username.value.trim(), password: f.elements.password.value, role: f.elements.role.value, person_id: f.elements.person_id.value || null }),
      (x) => t("ui.user_added", { user: x.username }), f.querySelector(".out"));
    if (r) { f.reset(); loadUsers(); }
  };
  const current = usersTurn();
  const [users, staff] = await Promise.all([api("/api/users"), api("/api/staff")]);
  if (!current()) return;
  const names = Object.fromEntries(staff.map((s) => [s.id, s.name]));
  $("#users-table").replaceChildren(table([t("field.username"), t("ui.role"), t("ui.staff_member"), t("ui.created")], users.map((u) => el("tr", {},
    el("td", {}, u.username), el("td", {}, word("role", u.role)), el("td", {}, u.person_id ? names[u.person_id] || u.person_id : "—"), el("td", {}, stamp(u.created_at))))));
  const chosen = f.elements.person_id.value;
  f.elements.person_id.replaceChildren(el("option", { value: "" }, "—"), ...staff.map((s) => el("option", { value: s.id }, s.name)));
  if (staff.some((s) => s.id === chosen)) f.elements.person_id.value = chosen;  // a refresh keeps the choice
}
