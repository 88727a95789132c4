// The lane cameras on the live page: each camera's latest analysed frame, with the faces
// or plates the worker boxed, refreshed about once a second while the live page shows.
import { $, api, el, t } from "./core.js";

const REFRESH_MS = 1000;

async function refresh() {
  const box = $("#camera-views");
  const page = $("#page-live");
  if (!box || !page || page.hidden || document.hidden) return;
  let cams;
  try {
    cams = await api("/api/cameras");
  } catch (e) {
    return; // the connection banner (app.js) tells the guard; nothing to add here
  }
  const shown = new Map([...box.querySelectorAll("figure")].map((f) => [f.dataset.camera, f]));
  for (const cam of cams) {
    let fig = shown.get(cam.id);
    if (!fig) {
      fig = el("figure", { class: "camera-view", "data-camera": cam.id },
        el("img", { alt: `${t("ui.camera")} ${cam.id}` }),
        el("figcaption", {}, `${cam.lane ? `${cam.lane} · ` : ""}${t("ui.camera")} ${cam.id}`));
      box.append(fig);
    }
    const img = fig.querySelector("img");
    if (cam.ts) img.src = `/api/cameras/${encodeURIComponent(cam.id)}/view.jpg?t=${cam.ts}`;
    else img.removeAttribute("src");
    fig.querySelector("figcaption").textContent =
      `${cam.lane ? `${cam.lane} · ` : ""}${t("ui.camera")} ${cam.id}${cam.ts ? "" : ` — ${t("ui.camera_not_ready")}`}`;
  }
}

setInterval(refresh, REFRESH_MS);
