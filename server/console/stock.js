// Parts stock per location from the movements ledger: safety levels, below-safety and
// negative stock flagged (never hidden), safety levels edited in place, and movements recorded.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { check, clearErrors, field, showApiError } from "./forms.js";
import { dateTime, label } from "./format.js";

const ORDER = { negative: 0, below_safety: 1, ok: 2 };

function rows(data) {
  const list = Array.isArray(data) ? data : data.levels || data.items || [];
  return list.map((r) => ({
    location: r.location,
    part: r.part ?? r.part_number,
    name: r.part_name ?? r.name ?? "",
    on_hand: r.on_hand,
    safety: r.safety ?? r.safety_level ?? 0,
    state: r.state ?? (r.on_hand < 0 ? "negative" : r.on_hand < (r.safety ?? 0) ? "below_safety" : "ok"),
  }));
}

export async function render(root, ctx) {
  let parts = [];
  try { parts = await api.get("/v1/parts"); } catch { parts = []; }
  const partNames = new Map(parts.map((p) => [p.part_number, p.name]));
  const location = h("select", { name: "location_filter", "aria-label": "Location" }, h("option", { value: "" }, "All locations"));
  const flagged = h("input", { type: "checkbox", name: "flagged" });
  const tiles = h("div", { class: "tiles" });
  const table = h("div");
  const error = h("div", { class: "form-error", role: "alert" });
  const movementPanel = h("section", { class: "panel", "aria-label": "Record a movement" });
  const movements = h("section", { class: "panel", "aria-label": "Recent movements" });

  replace(root,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Parts stock"),
      h("p", {}, "On hand per location, derived from receipts, transfers, usages on jobs and adjustments."))),
    tiles,
    h("div", { class: "filters" }, field("Location", location),
      h("label", { class: "checkbox-field" }, flagged, "Only flagged stock")),
    error,
    h("div", { class: "grid-2" }, table, h("div", { class: "stack" }, movementPanel, movements)));

  let levels = [];

  function safetyEditor(r) {
    const inputEl = h("input", { name: "level", type: "number", min: 0, step: 1, value: r.safety, "aria-label": `Safety level of ${r.part} at ${r.location}` });
    const form = h("form", { class: "inline-form", novalidate: true },
      h("div", { class: "field" }, inputEl, h("div", { class: "field-error" })),
      h("button", { type: "submit", class: "btn btn-small" }, "Set"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const level = Number(inputEl.value);
      if (!check(form, [["level", inputEl.value !== "" && Number.isInteger(level) && level >= 0 ? null : "A whole number, 0 or more."]])) return;
      try {
        await api.put("/v1/stock/safety", { part: r.part, location: r.location, level });
        ctx.toast(`Safety level of ${r.part} at ${r.location} set to ${level}`, "good");
        await load();
      } catch (err) {
        showApiError(form, err.field ? err : { ...err, field: "level", message: err.message });
      }
    });
    return form;
  }

  function draw() {
    const chosen = location.value;
    const shown = levels
      .filter((r) => !chosen || r.location === chosen)
      .filter((r) => !flagged.checked || r.state !== "ok")
      .sort((a, b) => a.location.localeCompare(b.location) || ORDER[a.state] - ORDER[b.state] || a.part.localeCompare(b.part));
    const negative = levels.filter((r) => r.state === "negative").length;
    const below = levels.filter((r) => r.state === "below_safety").length;
    replace(tiles,
      h("div", { class: "tile" }, h("div", { class: "label" }, "Locations"), h("div", { class: "value" }, new Set(levels.map((r) => r.location)).size)),
      h("div", { class: ["tile", negative ? "bad" : null] }, h("div", { class: "label" }, "Negative"), h("div", { class: "value" }, negative), h("div", { class: "sub" }, "more used than was there")),
      h("div", { class: ["tile", below ? "warn" : null] }, h("div", { class: "label" }, "Below safety"), h("div", { class: "value" }, below), h("div", { class: "sub" }, "reorder or transfer")));
    replace(table, shown.length === 0 ? h("div", { class: "panel empty" }, flagged.checked ? "No flagged stock." : "No stock recorded.") :
      h("div", { class: "table-wrap" }, h("table", { id: "stock-table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Location"), h("th", { scope: "col" }, "Part"),
          h("th", { scope: "col", class: "num" }, "On hand"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Safety level"))),
        h("tbody", {}, shown.map((r) => h("tr", { class: `stock-state-${r.state}`, dataset: { state: r.state } },
          h("td", {}, r.location),
          h("td", {}, h("span", { class: "mono" }, r.part), h("div", { class: "small muted" }, r.name || partNames.get(r.part) || "")),
          h("td", { class: "num" }, h("strong", {}, r.on_hand)),
          h("td", {}, h("span", { class: ["stock-flag", r.state] }, r.state === "ok" ? "OK" : label(r.state))),
          h("td", {}, safetyEditor(r))))))));
  }

  function drawMovementForm() {
    const kind = h("select", { name: "kind" }, ["receipt", "transfer", "adjustment"].map((k) => h("option", { value: k }, label(k))));
    const part = h("input", { name: "part_number", list: "stock-parts", autocomplete: "off" });
    const loc = h("input", { name: "location", list: "stock-locations", autocomplete: "off" });
    const to = h("input", { name: "to", list: "stock-locations", autocomplete: "off" });
    const qty = h("input", { name: "quantity", type: "number", step: 1, value: 1 });
    const toField = field("To location", to);
    const qtyHint = h("span", {}, "Parts received.");
    const sync = () => {
      toField.hidden = kind.value !== "transfer";
      qtyHint.textContent = kind.value === "adjustment" ? "Add or remove (negative) to match a count." : kind.value === "transfer" ? "Parts moved." : "Parts received.";
    };
    kind.addEventListener("change", sync);
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("div", { class: "form-grid" },
        field("Movement", kind), field("Part", part),
        field("Location", loc, "Warehouse or van code"), toField,
        field("Quantity", qty, qtyHint)),
      h("datalist", { id: "stock-parts" }, parts.map((p) => h("option", { value: p.part_number }, p.name))),
      h("datalist", { id: "stock-locations" }, [...new Set(levels.map((r) => r.location))].sort().map((l) => h("option", { value: l }))),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Record")));
    sync();
    let movementId = api.uuid();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = Number(qty.value);
      const ok = check(form, [
        ["part_number", part.value.trim() ? null : "Which part?"],
        ["location", loc.value.trim() ? null : "Which location?"],
        ["to", kind.value !== "transfer" || to.value.trim() ? (kind.value === "transfer" && to.value.trim() === loc.value.trim() ? "Choose a different location to move to." : null) : "Where do the parts go?"],
        ["quantity", Number.isInteger(q) && (kind.value === "adjustment" ? q !== 0 : q > 0) ? null : kind.value === "adjustment" ? "A whole number other than 0." : "A whole number above 0."],
      ]);
      if (!ok) return;
      // The id makes a retried request count once.
      const body = { id: movementId, kind: kind.value, part_number: part.value.trim(), location: loc.value.trim(), quantity: q };
      if (kind.value === "transfer") body.to = to.value.trim();
      try {
        await api.post("/v1/stock/movements", body);
        clearErrors(form);
        movementId = api.uuid();
        ctx.toast(`${label(kind.value)} of ${q} × ${body.part_number} recorded`, "good");
        await load();
      } catch (err) {
        showApiError(form, err);
      }
    });
    replace(movementPanel, h("h2", {}, "Record a movement"), form);
  }

  async function loadMovements() {
    let list;
    try {
      const data = await api.get("/v1/stock/movements?limit=15");
      list = Array.isArray(data) ? data : data.items || data.movements || [];
    } catch (e) {
      replace(movements, h("h2", {}, "Recent movements"), h("p", { class: "muted small" }, e.message));
      return;
    }
    replace(movements, h("h2", {}, "Recent movements"),
      list.length === 0 ? h("p", { class: "muted" }, "None yet.") :
        h("ul", { class: "timeline" }, list.slice(0, 15).map((m) => {
          const kind = typeof m.kind === "string" ? m.kind : Object.keys(m.kind || {})[0];
          const detail = m.kind && typeof m.kind === "object" ? Object.values(m.kind)[0] : {};
          return h("li", {}, h("div", {},
            h("strong", {}, `${label(kind)} · ${m.quantity} × `), h("span", { class: "mono" }, m.part_number),
            h("div", { class: "small" }, kind === "transfer" ? `${detail.from ?? m.location} → ${detail.to ?? m.to ?? ""}` : m.location,
              kind === "usage" && (m.work_order_number || detail.work_order) ? " · job " : null,
              kind === "usage" && detail.work_order ? h("a", { href: `#/wo/${detail.work_order}` }, m.work_order_number || "view job") : null),
            h("div", { class: "times" }, `${dateTime(m.at)}${m.by ? ` · ${ctx.techName(m.by)}` : ""}`)));
        })));
  }

  async function load() {
    try {
      levels = rows(await api.get("/v1/stock"));
      error.textContent = "";
    } catch (e) {
      error.textContent = e.status === 404 ? "This server does not keep a stock ledger yet." : e.message;
      levels = [];
    }
    const locations = [...new Set(levels.map((r) => r.location))].sort();
    const chosen = location.value;
    replace(location, h("option", { value: "" }, "All locations"), locations.map((l) => h("option", { value: l, selected: l === chosen }, l)));
    draw();
    loadMovements();
  }

  location.addEventListener("change", draw);
  flagged.addEventListener("change", draw);
  await load();
  drawMovementForm();
  return { refresh: load };
}
