// The perimeter view: each perimeter camera's latest frame, as its worker drew it (zones
// and live tracks with their paths), its health, and the perimeter alerts. Refreshes
// every 2 s; a lapsed session sends the guard back to the console's login.
"use strict";

const TYPES = {
  loitering: "徘徊 loitering", circling_vehicle: "车辆绕行 circling vehicle",
  intrusion: "入侵 intrusion", watchlist_face: "布控人脸 watch-list face",
  watchlist_plate: "布控车牌 watch-list plate",
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}

async function refresh() {
  const status = document.getElementById("status");
  let data;
  try {
    const r = await fetch("/api/perimeter", { credentials: "same-origin" });
    if (r.status === 401) { status.textContent = "请先登录 Please log in at the console"; return; }
    if (!r.ok) { status.textContent = `服务错误 Service error (${r.status})`; return; }
    data = await r.json();
  } catch (e) {
    status.textContent = "与服务失去连接 Connection to the service lost";
    return;
  }
  status.textContent = data.cameras.length ? "" : "没有周界摄像机 No perimeter camera configured";
  const box = document.getElementById("cameras");
  box.replaceChildren(...data.cameras.map((cam) => {
    const h = cam.health;
    const state = h ? `${h.connected ? "在线 online" : "离线 offline"} · ${h.processed_fps.toFixed(1)} fps · ${h.live_tracks} tracks`
                    : "等待画面 waiting for frames";
    const img = el("img", { alt: `${cam.id}`, class: "perimeter-view", "data-camera": cam.id });
    if (cam.view_ts) img.src = `/api/perimeter/${encodeURIComponent(cam.id)}/view.jpg?t=${encodeURIComponent(cam.view_ts)}`;
    return el("figure", { class: "perimeter-camera" }, img,
      el("figcaption", {}, `${cam.id} — ${state} — 区域 zones: ${cam.zones.map((z) => z.id).join(", ")}`));
  }));
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren(...data.alerts.map((a) => el("tr", { "data-type": a.type },
    el("td", {}, a.ts.slice(11, 19)), el("td", {}, TYPES[a.type] || a.type),
    el("td", {}, a.details.camera || (a.details.cameras || []).join(", ")),
    el("td", {}, a.details.zone || ""), el("td", {}, String(a.details.dwell_s ?? "")))));
}

refresh();
setInterval(refresh, 2000);
