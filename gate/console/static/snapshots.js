// Evidence pictures: a small thumbnail wherever a passage or an alert has a snapshot, and the
// full picture (scene, and the face or plate crop) in an overlay. Served to logged-in users
// only. The gate audits deliberate acts: opening the overlay is one audited act (both
// pictures come in one answer); the thumbnails are covered by the audit of the list that
// showed them (README "Privacy and evidence").
import { $, api, el, t } from "./core.js";

const PART_WORDS = { scene: "ui.snapshot_scene", crop: "ui.snapshot_crop" };
export const thumbUrl = (id) => `/api/snapshots/${encodeURIComponent(id)}/thumb`;

export function thumb(id) {
  if (!id) return el("span", { class: "thumb empty" }, "");
  const img = el("img", { class: "thumb", src: thumbUrl(id), alt: t("ui.snapshot"), loading: "lazy" });
  const button = el("button", { type: "button", class: "thumb-btn", "data-snapshot": id, title: t("ui.snapshot_open"),
    "aria-label": t("ui.snapshot_open"), onclick: () => openSnapshot(id) }, img);
  img.onerror = () => button.replaceWith("—");  // purged since the row was read
  return button;
}

// One click, one request, one audit row.
export async function openSnapshot(id) {
  let shown = {};
  try { shown = (await api(`/api/snapshots/${encodeURIComponent(id)}`)).pictures; } catch { shown = {}; }
  const figures = ["scene", "crop"].filter((p) => shown[p]).map((p) => el("figure", {},
    el("img", { src: shown[p], alt: t(PART_WORDS[p]), "data-part": p }), el("figcaption", {}, t(PART_WORDS[p]))));
  $("#snapshot-images").replaceChildren(...(figures.length ? figures : [el("p", { class: "error" }, t("ui.snapshot_gone"))]));
  $("#snapshot-dialog").showModal();
}
