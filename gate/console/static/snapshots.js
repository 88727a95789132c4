// Evidence pictures: a thumbnail wherever a passage or an alert has a snapshot, and the
// full picture (scene, and the face or plate crop) in an overlay. Served to logged-in users
// only; the gate audits each view (who looked at whose picture, when).
import { $, api, el, t } from "./core.js";

const PART_WORDS = { scene: "ui.snapshot_scene", crop: "ui.snapshot_crop" };
export const snapshotUrl = (id, part = "scene") => `/api/snapshots/${encodeURIComponent(id)}?part=${part}`;

// `parts` when the row says which pictures exist (review, passages); otherwise the overlay asks.
export function thumb(id, parts) {
  if (!id) return el("span", { class: "thumb empty" }, "");
  const img = el("img", { class: "thumb", src: snapshotUrl(id), alt: t("ui.snapshot"), loading: "lazy" });
  const button = el("button", { type: "button", class: "thumb-btn", "data-snapshot": id, title: t("ui.snapshot_open"),
    "aria-label": t("ui.snapshot_open"), onclick: () => openSnapshot(id, parts) }, img);
  img.onerror = () => button.replaceWith("—");  // purged since the row was read
  return button;
}

export async function openSnapshot(id, parts) {
  let shown = parts;
  if (!shown) {
    try { shown = (await api(`/api/snapshots/${encodeURIComponent(id)}/parts`)).parts; } catch { shown = []; }
  }
  const figures = ["scene", "crop"].filter((p) => shown.includes(p)).map((p) => el("figure", {},
    el("img", { src: snapshotUrl(id, p), alt: t(PART_WORDS[p]), "data-part": p }), el("figcaption", {}, t(PART_WORDS[p]))));
  $("#snapshot-images").replaceChildren(...(figures.length ? figures : [el("p", { class: "error" }, t("ui.snapshot_gone"))]));
  $("#snapshot-dialog").showModal();
}
