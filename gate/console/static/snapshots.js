// Evidence pictures: a small thumbnail wherever a passage or an alert has a snapshot, and the
// full picture (scene, and the face or plate crop) in an overlay. Served to logged-in users
// only. The gate audits deliberate acts: opening the overlay is one audited act (both
// pictures come in one answer); the thumbnails are covered by the audit of the list that
// showed them (README "Privacy and evidence").
import { $, api, el, errorText, notify, t } from "./core.js";

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

// A watch-list face hit opened to compare: the name as listed, the list, the reason, how close in
// words, the listed photo beside the face the camera caught. One click, one audited act.
export async function openWatchHit(alertId) {
  let h;
  try { h = await api(`/api/alerts/${encodeURIComponent(alertId)}/watch-photo`); } catch (err) { notify(errorText(err), false); return; }
  $("#watch-who").replaceChildren(listedWho(h));
  const figure = (src, part, caption) => el("figure", {}, el("img", { src, alt: caption, "data-part": part }), el("figcaption", {}, caption));
  $("#watch-images").replaceChildren(
    ...(h.listed.length ? h.listed.map((src) => figure(src, "listed", t("ui.watch_listed_photo", { name: h.name || h.entry_id })))
      : [el("p", { class: "notice", "data-part": "listed" }, t("ui.watch_no_photo"))]),
    h.captured ? figure(h.captured, "captured", t("ui.watch_captured")) : el("p", { class: "notice" }, t("ui.snapshot_gone")));
  $("#watch-dialog").showModal();
}

// "Listed: NAME (list) · reason · very similar (distance 0.31)": who, from where, why, how close.
export function listedWho(d) {
  const list = d.list === "local" ? t("ui.local_list") : d.list;
  return el("span", { class: "listed-who" }, [t("ui.listed_as", { name: d.name || d.entry_id, list }),
    d.reason ? `${t("ui.listing_reason")}: ${d.reason}` : "",
    d.match ? t(`match.${d.match}`, { distance: d.distance }) : ""].filter(Boolean).join(" · "));
}
