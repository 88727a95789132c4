// campus-gate guard console. Served from the gate; no external script, font or sound.
"use strict";

const I18N = {
  "zh-CN": {
    live: "实时", people: "人员", attendance: "考勤", vehicles: "车辆与布控名单", devices: "设备",
    users: "用户", audit: "审计日志", logout: "退出", login_title: "门卫控制台", username: "用户名",
    password: "密码", login: "登录", recent: "通行与判定", time: "时间", lane: "通道", direction: "方向",
    person: "人员", method: "方式", decision: "判定", reason: "原因", search: "姓名或编号", find: "查找",
    show: "显示", csv: "导出 CSV", name: "姓名", class: "班级", arrived: "到校", left: "离校", state: "状态",
    vehicles_registered: "登记车辆", watchlists: "生效的布控名单", wl_plates: "布控车牌", plate: "车牌",
    add_local: "加入本地名单", add_user: "添加用户", forbidden: "仅限管理员。", manual_open: "手动开闸",
    reason_required: "原因（必填，记入审计）", cancel: "取消", open: "开闸", ack: "确认",
    ack_note: "处理说明（必填）", on_campus: "在校", off_campus: "不在校", late: "迟到", absent: "缺勤",
    exit_permission: "准许离校", minutes: "分钟", guardians: "监护人", cards: "卡片", consent: "人脸授权",
    yes: "是", no: "否", entry: "进", exit: "出", open_dec: "放行", deny: "拒绝", none: "—",
    wrong_login: "用户名或密码错误", locked: "失败次数过多，请稍后再试", granted: "已准许离校至",
    visitors: "访客", visitor_register: "访客登记", id_resident: "居民身份证",
    id_passport: "护照", id_hkmo: "港澳通行证", id_tw: "台湾居民来往大陆通行证", id_number: "证件号码",
    phone: "电话", purpose: "来访事由", photo: "照片", register: "登记并核查",
    photo_notice: "照片仅用于在校内摄像头中跟踪本次来访，并按学校的保存期限保存。",
    visitors_today: "今日访客", cleared: "核查通过", flagged: "核查预警", unavailable: "核查服务不可用",
    admit: "准予入校", refuse: "拒绝入校", approve: "被访人同意", decline: "被访人拒绝",
    phone_approve: "电话确认同意", pass: "通行证", print: "打印", checkout: "离校登记",
    route: "行动轨迹", valid_until: "有效至", guard_note: "门卫说明（必填）",
    fire_reset: "火警解除后复位闸机", reset: "复位", fire_note: "复位说明（必填，记入审计）", retry_in: "秒后可重试",
  },
  en: {
    live: "Live", people: "People", attendance: "Attendance", vehicles: "Vehicles & watch lists",
    devices: "Devices", users: "Users", audit: "Audit log", logout: "Log out", login_title: "Guard console",
    username: "Username", password: "Password", login: "Log in", recent: "Passages and decisions",
    time: "Time", lane: "Lane", direction: "Direction", person: "Person", method: "Method",
    decision: "Decision", reason: "Reason", search: "Name or id", find: "Find", show: "Show",
    csv: "Export CSV", name: "Name", class: "Class", arrived: "Arrived", left: "Left", state: "State",
    vehicles_registered: "Registered vehicles", watchlists: "Watch lists in force", wl_plates: "Plates",
    plate: "Plate", add_local: "Add to local list", add_user: "Add user", forbidden: "Admins only.",
    manual_open: "Open lane", reason_required: "Reason (required, audited)", cancel: "Cancel",
    open: "Open", ack: "Acknowledge", ack_note: "What was done (required)", on_campus: "on campus",
    off_campus: "not on campus", late: "late", absent: "absent", exit_permission: "Allow to leave",
    minutes: "minutes", guardians: "Guardians", cards: "Cards", consent: "Face consent", yes: "yes",
    no: "no", entry: "in", exit: "out", open_dec: "open", deny: "deny", none: "—",
    wrong_login: "Wrong username or password", locked: "Too many failed logins; try again later",
    granted: "Allowed to leave until", visitors: "Visitors", visitor_register: "Register a visitor",
    id_resident: "Resident ID card", id_passport: "Passport", id_hkmo: "HK/Macau permit",
    id_tw: "Taiwan permit", id_number: "Document number", phone: "Phone", purpose: "Purpose",
    photo: "Photo", register: "Register and screen",
    photo_notice: "The photo is used only to follow this visit on the school's cameras and is kept only as long as the school's retention rules allow.",
    visitors_today: "Today's visitors", cleared: "cleared", flagged: "FLAGGED",
    unavailable: "screening unavailable", admit: "Admit", refuse: "Refuse", approve: "Host approves",
    decline: "Host declines", phone_approve: "Approved by phone", pass: "Pass", print: "Print",
    checkout: "Check out", route: "Route", valid_until: "Valid until", guard_note: "Guard's note (required)",
    fire_reset: "Reset the lanes after a fire alarm", reset: "Reset", fire_note: "Note (required, audited)", retry_in: "s until the next try",
  },
};

let lang = localStorage.getItem("lang") || "zh-CN";
let me = null;
const t = (k) => (I18N[lang] && I18N[lang][k]) || I18N.en[k] || k;
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) e.append(kid instanceof Node ? kid : document.createTextNode(kid ?? ""));
  return e;
};

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
  $("#lang").textContent = lang === "zh-CN" ? "English" : "中文";
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (me) headers["X-CSRF-Token"] = me.csrf;
  const res = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (res.status === 401) { showLogin(); throw new Error("401"); }
  if (!res.ok) {
    const detail = (await res.json().catch(() => ({}))).detail;
    throw new Error(Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : detail || res.status);
  }
  return res.headers.get("content-type")?.includes("json") ? res.json() : res.text();
}
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });

function showLogin() {
  me = null;
  $("#login").hidden = false; $("#nav").hidden = true; $("#logout").hidden = true; $("#who").textContent = "";
  document.querySelectorAll(".page").forEach((p) => { p.hidden = true; });
}

async function start() {
  try { me = await api("/api/me"); } catch { return; }
  if (!localStorage.getItem("lang") && me.language) { lang = me.language; translate(); }
  $("#login").hidden = true; $("#nav").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${me.user} (${me.role})`;
  document.querySelectorAll("[data-admin]").forEach((n) => { n.hidden = me.role !== "admin"; });
  const minutes = $("#visitor-form").elements.minutes;
  minutes.defaultValue = minutes.value = String(me.visit_minutes);  // visitors.default_minutes
  connectLive();
  route();
}

// Live page ------------------------------------------------------------------------------

function feedRow(e, fresh) {
  const who = e.person ? `${e.person.name} (${e.person.id})` : "—";
  const tr = el("tr", { class: `${e.decision === "deny" ? "deny" : ""} ${fresh ? "fresh" : ""}`, "data-event": e.id },
    el("td", {}, (e.ts || "").slice(11, 19)), el("td", {}, e.lane || "—"), el("td", {}, t(e.direction || "none")),
    el("td", {}, who), el("td", {}, e.method || ""), el("td", {}, t(e.decision === "open" ? "open_dec" : e.decision || "none")),
    el("td", {}, `${e.type}${e.reason && e.reason !== e.type ? " · " + e.reason : ""}`));
  return tr;
}

async function loadLive() {
  const lanes = $("#lane-buttons"); lanes.replaceChildren();
  for (const lane of me.lanes) lanes.append(el("button", { type: "button", "data-lane": lane, onclick: () => askOpen(lane) }, `${t("manual_open")} ${lane}`));
  const events = await api("/api/events?limit=50");
  $("#feed tbody").replaceChildren(...events.map((e) => feedRow(e, false)));
  await loadAlerts();
}

async function loadAlerts() {
  const open = await api("/api/alerts?open=true");
  const box = $("#alerts-open"); box.replaceChildren();
  let critical = false;
  for (const a of open) {
    critical ||= a.severity === "critical";
    const note = el("input", { placeholder: t("ack_note"), "aria-label": t("ack_note") });
    const div = el("div", { class: `alert ${a.severity}`, "data-alert": a.id, role: "alert" },
      el("span", {}, `${a.ts.slice(11, 19)} ${a.type} ${a.lane || ""} ${a.person_id || ""}`), note,
      el("button", { type: "button", onclick: async () => {
        if (!note.value.trim()) { note.focus(); return; }
        await post(`/api/alerts/${a.id}/ack`, { note: note.value.trim() }); loadAlerts();
      } }, t("ack")));
    box.append(div);
  }
  if (critical) beep();
}

function beep() {  // generated locally: no sound file, no network
  try {
    const ctx = new AudioContext(); const osc = ctx.createOscillator(); osc.frequency.value = 880;
    osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.3);
  } catch { /* autoplay may be blocked until the guard clicks */ }
}

let socket = null;
function connectLive() {
  if (socket) return;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`);
  socket.onmessage = (msg) => {
    const e = JSON.parse(msg.data);
    $("#feed tbody").prepend(feedRow(e, true));
    if (e.alerts && e.alerts.length) loadAlerts();
  };
  socket.onclose = () => { socket = null; if (me) setTimeout(connectLive, 2000); };
}

function askOpen(lane) {
  const dialog = $("#open-dialog"); $("#open-lane").textContent = lane;
  const form = $("#open-form"); form.reset();
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    await post(`/api/lanes/${encodeURIComponent(lane)}/open`, { reason: form.reason.value.trim() });
  };
  dialog.showModal();
}

// Other pages ------------------------------------------------------------------------------

async function loadPeople(q = "") {
  const people = await api(`/api/people?q=${encodeURIComponent(q)}`);
  $("#people-list").replaceChildren(...people.map((p) => el("li", {},
    el("a", { href: `#people/${encodeURIComponent(p.id)}` }, `${p.name} (${p.id}) ${p.class || ""}`))));
}

async function loadPerson(id) {
  const p = await api(`/api/people/${encodeURIComponent(id)}`);
  const minutes = el("input", { type: "number", value: "60", min: "5", max: "600" });
  const why = el("input", { placeholder: t("reason"), required: "" });
  const result = el("span");
  $("#person").replaceChildren(
    el("h2", {}, `${p.name} (${p.id}) ${p.class || ""}`),
    el("p", {}, el("span", { class: `badge ${p.on_campus ? "ok" : ""}` }, t(p.on_campus ? "on_campus" : "off_campus")),
      ` ${t("consent")}: ${t(p.face_consent ? "yes" : "no")}`),
    el("p", {}, `${t("guardians")}: ${p.guardians.map((g) => `${g.name} ${g.phone}`).join(", ") || "—"}`),
    el("p", {}, `${t("cards")}: ${p.cards.map((c) => c.card_key).join(", ") || "—"}`),
    el("form", { id: "exit-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await post(`/api/people/${encodeURIComponent(id)}/exit-permissions`, { minutes: Number(minutes.value), reason: why.value.trim() });
      result.textContent = `${t("granted")} ${r.valid_until.slice(11, 16)}`;
    } }, minutes, ` ${t("minutes")} `, why, el("button", {}, t("exit_permission")), " ", result),
    el("table", {}, el("tbody", {}, ...p.recent.map((e) => feedRow(e, false)))));
}

async function loadAttendance(date) {
  const q = date ? `?date=${date}` : "";
  const data = await api(`/api/attendance${q}`);
  $("#att-csv").href = `/api/attendance.csv${q}`;
  $("#att-summary").textContent = `${data.date}: ${t("late")} ${data.late.length}, ${t("absent")} ${data.absent.length}`;
  $("#att-table tbody").replaceChildren(...data.rows.map((r) => el("tr", {},
    el("td", {}, r.person_id), el("td", {}, r.name), el("td", {}, r.class_name),
    el("td", {}, (r.first_arrival || "").slice(11, 19)), el("td", {}, (r.last_departure || "").slice(11, 19)),
    el("td", {}, [r.on_campus ? t("on_campus") : "", r.late ? t("late") : "", r.absent ? t("absent") : ""].filter(Boolean).join(" ")))));
}

async function loadVehicles() {
  const [vehicles, wl] = await Promise.all([api("/api/vehicles"), api("/api/watchlists")]);
  $("#veh-table tbody").replaceChildren(...vehicles.map((v) => el("tr", {}, el("td", {}, v.plate), el("td", {}, v.kind), el("td", {}, v.owner_id || ""))));
  $("#wl-table tbody").replaceChildren(...wl.lists.map((l) => el("tr", {}, el("td", {}, l.name), el("td", {}, l.source), el("td", {}, l.version), el("td", {}, String(l.entries)), el("td", {}, l.received_at))));
  $("#wl-plates tbody").replaceChildren(...wl.plates.map((p) => el("tr", {}, el("td", {}, p.plate), el("td", {}, p.list), el("td", {}, p.reason))));
}

async function loadDevices() {
  const d = await api("/api/devices");
  const row = (name, ok, detail) => el("tr", {}, el("td", {}, name), el("td", {}, el("span", { class: `badge ${ok ? "ok" : "bad"}` }, ok ? "OK" : "!")), el("td", {}, detail));
  $("#devices-table").replaceChildren(el("table", {}, el("tbody", {},
    ...d.readers.map((r) => row(`reader ${r.id}`, r.connected, `${r.port} ${r.protocol} reads ${r.reads} bad ${r.bad_frames} ${r.error || ""}`)),
    ...d.cameras.map((c) => row(`camera ${c.id}`, c.connected, `${c.fps} fps, analysed ${c.analysed_fps} fps ${c.error || ""}`)),
    ...d.relays.map((r) => row(`relay ${r.lane}`, true, `${r.kind} fail-${r.fail} ${r.open ? "open" : "closed"}${r.held ? " held" : ""}`)),
    row("fire alarm", d.fire_alarm.healthy && !d.fire_alarm.active && !d.fire_alarm.released, `${d.fire_alarm.kind}${d.fire_alarm.active ? " ACTIVE" : ""}${d.fire_alarm.released ? " lanes released" : ""} ${d.fire_alarm.error || ""}`),
    row("MQTT broker", d.broker.connected, `${d.broker.host}:${d.broker.port} pending ${d.broker.pending} sent ${d.broker.sent} ${d.broker.error || ""}`),
    ...(d.components || []).map((c) => row(`${c.kind} ${c.name}`, c.up, `${c.critical ? "critical " : ""}restarts ${c.restarts} ${c.error || ""}`)))));
  const note = el("input", { required: "", minlength: "3", placeholder: t("fire_note") });
  const result = el("span", { id: "fire-reset-result" });
  $("#fire-reset").replaceChildren(el("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    try { await post("/api/fire/reset", { note: note.value.trim() }); result.textContent = "OK"; loadDevices(); } catch (err) { result.textContent = err.message; }
  } }, el("strong", {}, t("fire_reset")), " ", note, " ", el("button", {}, t("reset")), " ", result));
}

async function loadVisitors() {
  const staff = await api("/api/staff");
  $("#host-select").replaceChildren(...staff.map((s) => el("option", { value: s.id }, `${s.name} (${s.id})`)));
  const visitors = await api("/api/visitors");
  $("#visitors-table tbody").replaceChildren(...visitors.map((v) => el("tr", { "data-visitor": v.id },
    el("td", {}, v.created_at.slice(11, 16)), el("td", {}, el("a", { href: `#visitors/${v.id}` }, v.name)),
    el("td", {}, v.id_number), el("td", {}, el("span", { class: `screening-${v.screening}` }, t(v.screening))),
    el("td", {}, v.status))));
}

async function loadVisitor(id) {
  await loadVisitors();
  const v = await api(`/api/visitors/${id}`);
  const box = $("#visitor-detail");
  const note = el("input", { placeholder: t("guard_note"), name: "guard-note" });
  const act = (path, body) => async () => { await post(`/api/visitors/${id}/${path}`, body()); loadVisitor(id); };
  const actions = el("p", { class: "no-print" });
  if (["flagged", "screening_unavailable"].includes(v.status)) {
    actions.append(note, el("button", { type: "button", "data-action": "admit", onclick: act("guard", () => ({ admit: true, note: note.value || "--" })) }, t("admit")),
      el("button", { type: "button", "data-action": "refuse", onclick: act("guard", () => ({ admit: false, note: note.value || "--" })) }, t("refuse")));
  }
  if (v.status === "awaiting_host") {
    actions.append(el("button", { type: "button", "data-action": "approve", onclick: act("host", () => ({ approve: true, method: "console" })) }, t("approve")),
      el("button", { type: "button", "data-action": "phone", onclick: act("host", () => ({ approve: true, method: "phone" })) }, t("phone_approve")),
      el("button", { type: "button", "data-action": "decline", onclick: act("host", () => ({ approve: false, method: "console" })) }, t("decline")));
  }
  if (["approved", "on_site"].includes(v.status)) {
    actions.append(el("button", { type: "button", "data-action": "checkout", onclick: act("checkout", () => ({})) }, t("checkout")),
      el("button", { type: "button", onclick: () => window.print() }, t("print")));
  }
  const pass = v.pass_code ? el("div", { class: "pass", id: "visitor-pass" },
    el("h3", {}, `${t("pass")} · ${me.site}`), el("img", { src: `/api/visitors/${id}/pass.svg`, alt: "QR" }),
    el("p", {}, `${v.name} · ${v.id_number}`), el("p", {}, `${t("purpose")}: ${v.purpose} · host ${v.host_id}`),
    el("p", {}, `${t("valid_until")} ${v.valid_until.slice(0, 16).replace("T", " ")}`)) : "";
  box.replaceChildren(
    el("h2", {}, `${v.name} (${v.id_number})`),
    el("p", {}, el("span", { class: `screening-${v.screening}`, id: "screening-result" }, t(v.screening)), " ", el("span", { id: "visitor-status" }, v.status)),
    el("ul", {}, ...v.screening_reasons.map((r) => el("li", {}, r))),
    actions, pass,
    el("h3", {}, t("route")), el("ol", { id: "visitor-route" }, ...v.route.map((r) => el("li", {}, `${r.ts.slice(11, 19)} ${r.place} (${r.method})${r.restricted ? " !" : ""}`))));
}

async function fileBase64(input) {
  const file = input.files && input.files[0];
  if (!file) return null;
  const buf = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  return btoa(s);
}

async function loadUsers() {
  const users = await api("/api/users");
  $("#users-table tbody").replaceChildren(...users.map((u) => el("tr", {}, el("td", {}, u.username), el("td", {}, u.role), el("td", {}, u.created_at))));
}

async function loadAudit() {
  const rows = await api("/api/audit?limit=200");
  $("#audit-table tbody").replaceChildren(...rows.map((r) => el("tr", {}, el("td", {}, r.ts.slice(0, 19)), el("td", {}, r.actor), el("td", {}, r.action), el("td", {}, r.target || ""), el("td", {}, JSON.stringify(r.details)))));
}

async function route() {
  if (!me) return;
  const [page, arg] = (location.hash.slice(1) || "live").split("/");
  const admin = ["users", "audit"].includes(page);
  document.querySelectorAll(".page").forEach((p) => { p.hidden = true; });
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.hash === `#${page}`));
  if (admin && me.role !== "admin") { $("#page-forbidden").hidden = false; return; }
  const section = $(`#page-${page}`) || $("#page-live");
  section.hidden = false;
  const loaders = { live: loadLive, people: () => (arg ? loadPerson(decodeURIComponent(arg)) : loadPeople()),
    attendance: () => loadAttendance(), visitors: () => (arg ? loadVisitor(arg) : loadVisitors()), vehicles: loadVehicles, devices: loadDevices, users: loadUsers, audit: loadAudit };
  await (loaders[page] || loadLive)();
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  $("#lang").addEventListener("click", () => { lang = lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", lang); translate(); route(); });
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const res = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: f.username.value, password: f.password.value }) });
    if (!res.ok) {
      const wait = res.headers.get("Retry-After");
      $("#login-error").textContent = t(res.status === 429 ? "locked" : "wrong_login") + (wait ? ` (${wait} ${t("retry_in")})` : "");
      return;
    }
    f.reset(); $("#login-error").textContent = ""; start();
  });
  $("#logout").addEventListener("click", async () => { await post("/api/logout", {}); location.hash = ""; showLogin(); });
  $("#people-search").addEventListener("submit", (ev) => { ev.preventDefault(); loadPeople(ev.target.q.value); });
  $("#att-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAttendance(ev.target.date.value); });
  $("#wl-add").addEventListener("submit", async (ev) => { ev.preventDefault(); await post("/api/watchlists/local/plates", { plate: ev.target.plate.value, reason: ev.target.reason.value }); ev.target.reset(); loadVehicles(); });
  $("#visitor-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const v = await post("/api/visitors", { name: f.elements.name.value, id_type: f.id_type.value, id_number: f.id_number.value,
        phone: f.phone.value, purpose: f.purpose.value, host_id: f.host_id.value, minutes: f.minutes.value ? Number(f.minutes.value) : null,
        plate: f.plate.value || null, photo: await fileBase64(f.photo) });
      $("#visitor-error").textContent = ""; f.reset(); location.hash = `#visitors/${v.id}`;
    } catch (err) { $("#visitor-error").textContent = err.message; }
  });
  $("#user-add").addEventListener("submit", async (ev) => { ev.preventDefault(); const f = ev.target; await post("/api/users", { username: f.username.value, password: f.password.value, role: f.role.value }); f.reset(); loadUsers(); });
  window.addEventListener("hashchange", route);
  start();
});
