// The visitor desk as a kiosk: document -> photo -> screening -> host's answer -> pass
// (temporary card, route, overstay, checkout). And the host's own page on their phone.
import { $, act, api, cardText, el, errorText, newestOnly, notify, post, resizedBase64, screeningReason, stamp, state, t, table, time, word } from "./core.js";
import { drawMap, mapData } from "./pages.js";

let desk = { step: 1, doc: null, photo: null, stream: null, chip: null, chipSeq: 0 };
let pollTimer = null;
let chipTimer = null;
// The desk and a visit share the page: a load of either that answers after a newer one began
// (a reload when the service comes back, next to the reload after a checkout) draws nothing.
const visitsTurn = newestOnly();
const hostTurn = newestOnly();
const ID_TYPES = ["resident-id", "passport", "hk-macau-permit", "taiwan-permit"];

function stopCamera() {
  if (desk.stream) desk.stream.getTracks().forEach((tr) => tr.stop());
  desk.stream = null;
}
function stopPoll() { clearInterval(pollTimer); pollTimer = null; clearInterval(chipTimer); chipTimer = null; }

function steps(current) {
  const names = ["step_document", "step_photo", "step_screening", "step_host", "step_pass"];
  return el("ol", { class: "steps" }, ...names.map((n, i) => el("li", { class: i + 1 === current ? "current" : i + 1 < current ? "done" : "" }, t(`ui.${n}`))));
}

export async function loadVisitors() {
  const isNewest = visitsTurn();
  stopPoll(); stopCamera();
  desk = { step: 1, doc: null, photo: null, stream: null, chip: null, chipSeq: desk.chipSeq };
  await renderDesk(isNewest);
  await loadToday(isNewest);
}

async function loadToday(isNewest) {
  const visitors = await api("/api/visitors");
  if (!isNewest()) return;
  $("#visitors-csv").href = "/api/visitors.csv";
  $("#visitors-today").replaceChildren(table(
    [t("ui.time"), t("field.name"), t("field.id_number"), t("ui.host"), t("ui.screening"), t("ui.status")],
    visitors.map((v) => el("tr", { "data-visitor": v.id },
      el("td", {}, time(v.created_at)), el("td", {}, el("a", { href: `#visitors/${v.id}` }, v.name)),
      el("td", {}, v.id_number), el("td", {}, v.host_name),
      el("td", {}, el("span", { class: `screening-${v.screening}` }, word("screening", v.screening))),
      el("td", {}, word("visitor", v.status), v.overstaying ? el("span", { class: "badge bad" }, t("ui.overstaying")) : "")))));
}

async function renderDesk(isNewest = () => true) {
  const box = $("#desk");
  $("#visitor-detail").replaceChildren();
  box.hidden = false;
  if (desk.step === 1) {
    const staff = await api("/api/staff");
    if (!isNewest()) return;
    const f = el("form", { id: "visitor-form", novalidate: true },
      el("label", {}, t("field.name"), el("input", { name: "name", required: true, maxlength: "100", autocomplete: "off" })),
      el("label", {}, t("field.id_type"), el("select", { name: "id_type" }, ...ID_TYPES.map((k) => el("option", { value: k }, word("id_type", k))))),
      el("label", {}, t("field.id_number"), el("input", { name: "id_number", required: true, maxlength: "32", autocomplete: "off", inputmode: "text" })),
      el("label", {}, t("field.phone"), el("input", { name: "phone", maxlength: "32", inputmode: "tel" })),
      el("label", {}, t("field.purpose"), el("input", { name: "purpose", required: true, maxlength: "200" })),
      el("label", {}, t("field.host_id"), el("select", { name: "host_id", id: "host-select", required: true }, ...staff.map((s) => el("option", { value: s.id }, s.name)))),
      el("label", {}, t("field.minutes"), el("input", { name: "minutes", type: "number", min: "5", max: "1440", value: String(state.me.visit_minutes) })),
      el("label", {}, t("field.plate"), el("input", { name: "plate", maxlength: "16" })),
      el("p", { id: "visitor-error", class: "error", role: "alert" }),
      el("button", { type: "submit", "data-action": "next" }, t("ui.next")));
    if (desk.doc) for (const [k, v] of Object.entries(desk.doc)) if (f.elements[k]) f.elements[k].value = v ?? "";
    f.onsubmit = (ev) => {
      ev.preventDefault();
      const missing = ["name", "id_number", "purpose", "host_id"].filter((k) => !f.elements[k].value.trim());
      if (missing.length) { $("#visitor-error").textContent = t("error.invalid_field", { fields: missing.map((k) => t(`field.${k}`)).join("、") }); return; }
      desk.doc = Object.fromEntries(["name", "id_type", "id_number", "phone", "purpose", "host_id", "minutes", "plate"].map((k) => [k, f.elements[k].value]));
      desk.step = 2; renderDesk();
    };
    box.replaceChildren(steps(1), el("div", { id: "chip", hidden: true }), f);
    if (desk.chip) fillFromChip(f, desk.chip);
    if (desk.error) { $("#visitor-error").textContent = desk.error; desk.error = null; }
    watchChip(f);
    return;
  }
  // Step 2: the photo, from the desk camera where the browser allows it, or a file.
  const video = el("video", { id: "desk-video", autoplay: true, playsinline: true, muted: true, hidden: true });
  const preview = el("img", { id: "photo-preview", alt: t("field.photo"), hidden: !desk.photo, src: desk.photo ? `data:image/jpeg;base64,${desk.photo}` : null });
  const file = el("input", { type: "file", name: "photo", accept: "image/jpeg,image/png", onchange: async () => {
    if (!file.files[0]) return;
    desk.pending = resizedBase64(file.files[0]);  // a 4 MB phone photo goes up as ~200 kB
    try {
      desk.photo = await desk.pending;
      preview.src = `data:image/jpeg;base64,${desk.photo}`; preview.hidden = false;
    } catch { notify(t("error.photo"), false); } finally { desk.pending = null; }
  } });
  const take = el("button", { type: "button", "data-action": "take", hidden: true, onclick: async () => {
    if (!video.videoWidth) { notify(t("ui.camera_not_ready"), false); return; }
    desk.photo = await resizedBase64(video); preview.src = `data:image/jpeg;base64,${desk.photo}`; preview.hidden = false;
  } }, t("ui.take_photo"));
  const out = el("p", { id: "visitor-error", class: "error", role: "alert" });
  const submit = el("button", { type: "button", "data-action": "register", onclick: async () => {
    submit.disabled = true;
    if (desk.pending) await desk.pending.catch(() => null);  // the chosen photo, not the one before
    const d = desk.doc;
    try {
      const v = await post("/api/visitors", { name: d.name, id_type: d.id_type, id_number: d.id_number, phone: d.phone,
        purpose: d.purpose, host_id: d.host_id, minutes: d.minutes ? Number(d.minutes) : null, plate: d.plate || null, photo: desk.photo,
        chip_token: desk.chip ? desk.chip.token : null });
      stopCamera(); desk.chip = null; notify(t("ui.registered", { name: v.name }));
      location.hash = `#visitors/${v.id}`;
    } catch (err) {
      submit.disabled = false;
      const text = errorText(err);
      if (err.code === "photo") { out.textContent = text; return; }
      desk.error = text; desk.step = 1; stopCamera(); renderDesk();  // back to the document, saying why
    }
  } }, t("ui.register"));
  box.replaceChildren(steps(2),
    el("p", { class: "notice" }, t("ui.photo_notice")),
    el("div", { class: "photo-row" }, video, preview),
    el("p", {}, take, " ", el("label", {}, t("ui.upload_photo"), " ", file)),
    out,
    el("p", {}, el("button", { type: "button", onclick: () => { stopCamera(); desk.step = 1; renderDesk(); } }, t("ui.back")), " ", submit));
  if (navigator.mediaDevices?.getUserMedia && window.isSecureContext) {
    try {
      desk.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280 }, audio: false });
      video.srcObject = desk.stream; video.hidden = false; take.hidden = false;
    } catch { /* no camera or not allowed: the upload stays */ }
  }
}

// The desk's ID-card reader: a card laid on it fills the document and locks what the chip said.
// Where no reader is configured nothing shows, and the guard types as before.
async function watchChip(f) {
  const box = $("#chip");
  const take = (st) => {
    if (!st.configured) { clearInterval(chipTimer); chipTimer = null; return; }
    box.hidden = false;
    const read = st.read;
    if (read) {
      desk.chipSeq = read.seq;
      if (read.expired) {  // refused at once: the card cannot stand for the visitor
        desk.chip = null; unlockChip(f);
        $("#visitor-error").textContent = t("ui.chip_expired", { date: read.fields.valid_to });
      } else { desk.chip = read; fillFromChip(f, read); $("#visitor-error").textContent = ""; }
    }
    if (!desk.chip) box.replaceChildren(el("p", { class: st.connected ? "notice" : "notice bad", id: "chip-state" }, t(st.connected ? "ui.chip_ready" : "ui.chip_offline")));
  };
  const ask = () => api(`/api/desk/idcard?after=${desk.chipSeq}`).then(take);
  try { await ask(); } catch { return; }
  clearInterval(chipTimer);
  chipTimer = setInterval(() => {
    if ($("#page-visitors").hidden || !document.body.contains(f)) { clearInterval(chipTimer); chipTimer = null; return; }
    ask().catch(() => { /* shown by the connection banner */ });
  }, 1000);
}

function fillFromChip(f, read) {
  const c = read.fields;
  f.elements.name.value = c.name; f.elements.id_type.value = "resident-id"; f.elements.id_number.value = c.number;
  for (const k of ["name", "id_number"]) f.elements[k].readOnly = true;
  f.elements.id_type.disabled = true;
  f.classList.add("from-chip");
  const row = (label, value) => el("tr", {}, el("th", { scope: "row" }, label), el("td", {}, value));
  $("#chip").hidden = false;
  $("#chip").replaceChildren(el("div", { class: "chip-card", id: "chip-card" },
    el("p", {}, el("span", { class: "badge ok" }, t("ui.read_from_chip")), " ",
      el("button", { type: "button", "data-action": "chip-clear", onclick: () => { desk.chip = null; unlockChip(f); watchChip(f); } }, t("ui.chip_type_instead"))),
    el("table", {}, el("tbody", {},
      row(t("ui.chip_sex"), word("sex", c.sex)), row(t("ui.chip_ethnicity"), word("ethnicity", c.ethnicity)),
      row(t("ui.chip_birth"), c.birth), row(t("ui.chip_address"), c.address), row(t("ui.chip_issuer"), c.issuer),
      row(t("ui.chip_valid"), `${c.valid_from} – ${c.valid_to || t("ui.chip_long_term")}`)))));
}

function unlockChip(f) {
  for (const k of ["name", "id_number"]) { f.elements[k].readOnly = false; f.elements[k].value = ""; }
  f.elements.id_type.disabled = false;
  f.classList.remove("from-chip");
}

// One visit ------------------------------------------------------------------------------------

function routeList(v) {
  return table([t("ui.time"), t("ui.place"), t("field.direction"), t("field.method")], v.route.map((r) => {
    const [method, way] = r.method.split(" ");
    return el("tr", { class: r.restricted ? "deny" : "" }, el("td", {}, time(r.ts)), el("td", {}, r.place === "desk" ? t("ui.desk") : r.place),
      el("td", {}, way === "out" ? word("direction", "exit") : way === "in" ? word("direction", "entry") : "—"),
      el("td", {}, word("method", method)));
  }), { id: "visitor-route" });
}

function badge(v) {
  const voided = !v.pass_code;
  return el("div", { class: `pass ${voided ? "void" : ""}`, id: "visitor-pass" },
    el("h3", {}, v.school), el("p", { class: "pass-title" }, t("ui.visitor_pass")),
    el("div", { class: "pass-body" },
      v.photo ? el("img", { class: "pass-photo", src: `/api/visitors/${v.id}/photo`, alt: t("field.photo") }) : el("span", { class: "pass-photo empty" }, t("ui.no_photo")),
      voided ? el("div", { class: "void-mark" }, t("ui.pass_void")) : el("img", { class: "qr", src: `/api/visitors/${v.id}/pass.svg`, alt: "QR" })),
    el("p", { class: "pass-name" }, v.name),
    el("p", {}, `${t("ui.host")}: ${v.host_name}`), el("p", {}, `${t("field.purpose")}: ${v.purpose}`),
    el("p", {}, `${t("ui.valid_from")} ${stamp(v.valid_from)}`), el("p", {}, `${t("ui.valid_until")} ${stamp(v.valid_until)}`));
}

export async function loadVisitor(id) {
  const isNewest = visitsTurn();
  stopPoll(); stopCamera();
  $("#desk").hidden = true;
  let v;
  try { v = await api(`/api/visitors/${encodeURIComponent(id)}`); } catch (err) {
    if (isNewest()) $("#visitor-detail").replaceChildren(el("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  if (!isNewest()) return;
  await loadToday(isNewest);
  if (!isNewest()) return;
  const box = $("#visitor-detail");
  const step = { flagged: 3, screening_unavailable: 3, refused: 3, awaiting_host: 4, declined: 4 }[v.status] || 5;
  const out = el("p", { class: "error", role: "alert", id: "visitor-action-error" });
  const again = () => loadVisitor(id);
  const parts = [steps(step), el("h2", {}, `${v.name} · ${v.id_number}`,
      v.read_from_chip ? el("span", { class: "badge ok", id: "read-from-chip" }, t("ui.read_from_chip")) : ""),
    el("p", { class: `verdict-banner screening-${v.screening}`, id: "screening-result" }, word("screening", v.screening)),
    el("ul", { id: "screening-reasons" }, ...v.screening_reasons.map((r) => el("li", {}, screeningReason(r)))),
    el("p", {}, el("span", { id: "visitor-status", "data-status": v.status }, word("visitor", v.status)),
      v.overstaying ? el("span", { class: "badge bad", id: "overstay" }, t("ui.overstaying")) : "")];
  if (["flagged", "screening_unavailable"].includes(v.status)) {
    const note = el("input", { name: "guard-note", placeholder: t("ui.guard_note"), "aria-label": t("ui.guard_note"), maxlength: "500" });
    const decide = (admit) => async () => {
      if (note.value.trim().length < 2) { out.textContent = t("ui.note_required"); notify(t("ui.note_required"), false); return; }
      if (await act(post(`/api/visitors/${id}/guard`, { admit, note: note.value.trim() }), t(admit ? "ui.admitted" : "ui.refused"), out)) again();
    };
    parts.push(el("div", { class: "actions" }, note, el("button", { type: "button", "data-action": "admit", onclick: decide(true) }, t("ui.admit")),
      el("button", { type: "button", "data-action": "refuse", onclick: decide(false) }, t("ui.refuse"))));
  }
  if (v.status === "awaiting_host") {
    const note = el("input", { name: "phone-note", placeholder: t("ui.phone_note"), "aria-label": t("ui.phone_note"), maxlength: "500" });
    const record = (approve) => async () => {
      if (note.value.trim().length < 2) { out.textContent = t("ui.note_required"); notify(t("ui.note_required"), false); return; }
      if (await act(post(`/api/visitors/${id}/host`, { approve, method: "phone", note: note.value.trim() }), t(approve ? "ui.approved" : "ui.declined"), out)) again();
    };
    parts.push(el("p", { class: "waiting" }, t("ui.waiting_host", { host: v.host_name })),
      el("div", { class: "actions" }, note, el("button", { type: "button", "data-action": "phone-approve", onclick: record(true) }, t("ui.phone_approve")),
        el("button", { type: "button", "data-action": "phone-decline", onclick: record(false) }, t("ui.phone_decline"))));
    pollTimer = setInterval(async () => {  // the host answers on their phone
      if ($("#page-visitors").hidden) { stopPoll(); return; }
      try { const now = await api(`/api/visitors/${encodeURIComponent(id)}`); if (now.status !== v.status) again(); } catch { /* shown by the alarm bar */ }
    }, 2000);
  }
  if (["approved", "on_site", "checked_out"].includes(v.status)) {
    parts.push(badge(v));
    if (v.status !== "checked_out") {
      const card = el("input", { name: "card", placeholder: t("field.card"), "aria-label": t("field.card"), maxlength: "40" });
      parts.push(el("form", { class: "actions", id: "card-form", onsubmit: async (ev) => {
        ev.preventDefault();
        if (!card.value.trim()) { out.textContent = t("ui.card_required"); return; }
        if (await act(post(`/api/visitors/${id}/card`, { card: card.value.trim() }), (r) => t("ui.card_bound", { card: cardText(r.card) }), out)) card.value = "";
      } }, el("strong", {}, t("ui.temp_card")), " ", card, el("button", { type: "submit", "data-action": "card" }, t("ui.bind_card"))),
      el("p", { class: "actions" },
        el("button", { type: "button", "data-action": "print", onclick: () => window.print() }, t("ui.print_badge")), " ",
        el("button", { type: "button", "data-action": "checkout", onclick: async () => {
          if (await act(post(`/api/visitors/${id}/checkout`, {}), t("ui.checked_out"), out)) again();
        } }, t("ui.checkout"))));
    }
  }
  const routeMap = el("div", { id: "visitor-map", class: "map-small no-print", hidden: true });
  parts.push(out, el("h3", {}, t("ui.route")), routeList(v), routeMap);
  box.replaceChildren(...parts);
  drawRoute(routeMap, v.route);
}

// The visitor's route on the campus map: the places passed, numbered in order.
async function drawRoute(box, route) {
  if (!route.length) return;
  let m;
  try { m = await mapData(); } catch { return; }
  if (!m.image) return;
  drawMap(box, m, false);
  route.forEach((r, i) => {
    const n = box.querySelector(`.marker[data-ref="${CSS.escape(r.place)}"]`);
    if (!n) return;
    n.classList.add("visited");
    n.dataset.steps = `${n.dataset.steps ? `${n.dataset.steps},` : ""}${i + 1}`;
    n.textContent = `${r.place} (${n.dataset.steps})`;
  });
  box.hidden = false;
}

// The host's own page (role host, on their phone) -------------------------------------------------

// What the host's phone says for each kind of news from the desk.
const HOST_NOTES = { visitor_waiting: "ui.host_note_waiting", visitor_pass_reissued: "ui.host_note_reissued", visitor_overstay: "ui.host_note_overstay" };
let hostSocket = null;
let hostRetry = 0;

// A system notification: through the service worker where there is one (phones allow no
// other), else the page's own. The host's answer is on the page the notification opens.
async function systemNotify(said) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const title = t(HOST_NOTES[said.kind] || "ui.host_note_waiting", { name: said.visitor.name });
  const body = said.kind === "visitor_pass_reissued"
    ? t("ui.host_note_window", { from: stamp(said.valid_from), until: stamp(said.valid_until) })
    : `${t("field.purpose")}: ${said.visitor.purpose}`;
  const options = { body, tag: `${said.kind}-${said.visitor.id}`, icon: "/static/icon-192.png", data: { url: "/#host" } };
  const reg = navigator.serviceWorker ? await navigator.serviceWorker.getRegistration().catch(() => null) : null;
  if (reg && reg.active) { try { await reg.showNotification(title, options); return; } catch { /* the page's own below */ } }
  try { new Notification(title, options); } catch { /* no notification on this browser: the list still shows it */ }
}

// The host's WebSocket: kept open (reopened with back-off) while a host is logged in.
function hostLive(render) {
  if (hostSocket || !state.me || state.me.role !== "host") return;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/host/live`);
  hostSocket = ws;
  ws.onopen = () => { hostRetry = 0; $("#host-live").dataset.state = "open"; };
  ws.onmessage = (m) => { const said = JSON.parse(m.data); systemNotify(said); render().catch(() => {}); };
  ws.onclose = () => {
    hostSocket = null;
    const live = $("#host-live"); if (live) live.dataset.state = "closed";
    setTimeout(() => hostLive(render), Math.min(30000, 1000 * 2 ** hostRetry++));
  };
}

function notificationsOffer() {
  const box = $("#host-notify");
  if (!("Notification" in window)) { box.replaceChildren(el("p", { class: "notice" }, t("ui.notify_unsupported"))); return; }
  if (Notification.permission === "granted") { box.replaceChildren(); return; }
  if (Notification.permission === "denied") { box.replaceChildren(el("p", { class: "notice bad" }, t("ui.notify_denied"))); return; }
  box.replaceChildren(el("button", { type: "button", class: "big", "data-action": "notify-enable", onclick: async () => {
    await Notification.requestPermission().catch(() => null); notificationsOffer();
  } }, t("ui.notify_enable")));
}

export async function loadHost() {
  stopPoll();
  if (navigator.serviceWorker && window.isSecureContext) navigator.serviceWorker.register("/sw.js").catch(() => { /* the page's own notifications remain */ });
  notificationsOffer();
  const render = async () => {  // asked by the WebSocket, the poll and an answer: the newest draws
    const isNewest = hostTurn();
    const list = await api("/api/host/visitors");
    if (!isNewest()) return;
    $("#host-list").replaceChildren(...(list.length ? list : [null]).map((v) => {
      if (!v) return el("p", {}, t("ui.no_visitors"));
      const out = el("p", { class: "error", role: "alert" });
      const answer = (approve) => async () => {
        if (await act(post(`/api/visitors/${v.id}/host`, { approve }), t(approve ? "ui.approved" : "ui.declined"), out)) render();
      };
      return el("div", { class: "host-card", "data-visitor": v.id },
        v.photo ? el("img", { src: `/api/visitors/${v.id}/photo`, alt: t("field.photo"), class: "host-photo" }) : "",
        el("h3", {}, v.name), el("p", {}, `${t("field.purpose")}: ${v.purpose}`), el("p", {}, `${time(v.created_at)} · ${word("visitor", v.status)}`),
        v.status === "awaiting_host" ? el("p", { class: "actions" },
          el("button", { type: "button", class: "big ok", "data-action": "host-approve", onclick: answer(true) }, t("ui.host_approve")),
          el("button", { type: "button", class: "big", "data-action": "host-decline", onclick: answer(false) }, t("ui.host_decline"))) : "",
        out);
    }));
  };
  await render();
  hostLive(render);
  // The WebSocket brings news at once; this slower poll only mends a missed message.
  pollTimer = setInterval(() => { if (!$("#page-host").hidden) render().catch(() => {}); }, 5000);
}
