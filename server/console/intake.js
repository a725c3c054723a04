// New work order from an intake call or message: the form, the priority and SLA targets the
// server computes for it shown before saving, and field-by-field errors.

import * as api from "./api.js";
import { h, replace, debounce } from "./dom.js";
import { check, clearErrors, field, select, showApiError } from "./forms.js";
import { CATEGORIES, CHANNELS, IMPACTS, TIERS, URGENCIES, dateTime, label, minutes } from "./format.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function render(root, ctx) {
  const techs = await ctx.technicians();
  // Where a region's technicians are based: a fair first guess of a site's position.
  const centres = new Map();
  for (const t of techs.values()) {
    if (!t.region) continue;
    const c = centres.get(t.region) || { lat: 0, lon: 0, n: 0 };
    c.lat += t.latitude; c.lon += t.longitude; c.n += 1;
    centres.set(t.region, c);
  }
  const regions = [...centres.keys()].sort();

  const input = (name, attrs = {}) => h("input", { name, autocomplete: "off", ...attrs });
  const c = {
    channel: select("channel", CHANNELS, label, { value: "phone" }),
    name: input("customer.name", { required: true }),
    tier: select("customer.tier", TIERS, label, { value: "standard" }),
    contactName: input("customer.contact.name"),
    phone: input("customer.contact.phone", { type: "tel" }),
    email: input("customer.contact.email", { type: "email" }),
    address: input("customer.site.address"),
    region: input("customer.site.region", { list: "intake-regions" }),
    lat: input("customer.site.latitude", { inputmode: "decimal" }),
    lon: input("customer.site.longitude", { inputmode: "decimal" }),
    model: input("asset.model"),
    serial: input("asset.serial"),
    category: select("category", CATEGORIES, label, { value: "hardware" }),
    urgency: select("urgency", URGENCIES, label, { value: "normal" }),
    impact: select("impact", IMPACTS, label, { value: "one_unit" }),
    description: h("textarea", { name: "description", rows: 4, required: true }),
  };
  const positionHint = h("span", {}, "Decimal degrees; when left empty, the centre of the region is used.");
  const showCentre = () => {
    const region = c.region.value.trim();
    const centre = centres.get(region);
    c.lat.placeholder = centre ? (centre.lat / centre.n).toFixed(4) : "";
    c.lon.placeholder = centre ? (centre.lon / centre.n).toFixed(4) : "";
    positionHint.textContent = centre
      ? `Empty: the approximate centre of ${region} (where its technicians are based) is used.`
      : "Decimal degrees; when left empty, the centre of the region is used.";
  };
  c.region.addEventListener("input", showCentre);
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "intake-save" }, "Create work order");
  const form = h("form", { class: "panel", novalidate: true, id: "intake-form", "aria-label": "Intake" },
    h("div", { class: "form-error", role: "alert" }),
    h("fieldset", {}, h("legend", {}, "Request"),
      h("div", { class: "form-grid" },
        field("Channel", c.channel),
        field("Category", c.category),
        field("Urgency", c.urgency, "How urgent it is for the customer"),
        field("Impact", c.impact, "How far the problem reaches"),
        field("Description", c.description, "What the customer reports, error codes, access notes", "wide"))),
    h("fieldset", {}, h("legend", {}, "Customer"),
      h("div", { class: "form-grid" },
        field("Customer name", c.name),
        field("Customer tier", c.tier),
        field("Contact person", c.contactName),
        field("Phone", c.phone),
        field("E-mail", c.email),
        field("Site address", c.address),
        field("Region", c.region),
        h("datalist", { id: "intake-regions" }, regions.map((r) => h("option", { value: r }))),
        h("div", { class: "field" }),
        field("Latitude", c.lat, positionHint),
        field("Longitude", c.lon))),
    h("fieldset", {}, h("legend", {}, "Asset"),
      h("div", { class: "form-grid" },
        field("Model", c.model),
        field("Serial number", c.serial))),
    h("div", { class: "form-actions" }, save, h("a", { class: "btn", href: "#/board" }, "Cancel")));

  const preview = h("aside", { class: "panel preview", id: "intake-preview", "aria-live": "polite", "aria-label": "Computed priority and SLA" });

  replace(root,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "New work order"), h("p", {}, "Priority and SLA targets are computed from urgency, impact and the customer's tier."))),
    h("div", { class: "grid-2" }, form, preview));

  // One customer per intake form, so that retries do not make several.
  const customerId = api.uuid();

  function number(el) {
    const text = el.value.trim().replace(",", ".");
    return text === "" ? null : Number(text);
  }

  function body() {
    const centre = centres.get(c.region.value.trim());
    const lat = number(c.lat) ?? (centre ? centre.lat / centre.n : 0);
    const lon = number(c.lon) ?? (centre ? centre.lon / centre.n : 0);
    return {
      channel: c.channel.value,
      customer: {
        id: customerId,
        name: c.name.value.trim(),
        tier: c.tier.value,
        site: { address: c.address.value.trim(), region: c.region.value.trim(), latitude: lat, longitude: lon },
        contact: { name: c.contactName.value.trim(), phone: c.phone.value.trim(), email: c.email.value.trim() },
      },
      asset: { model: c.model.value.trim(), serial: c.serial.value.trim() },
      category: c.category.value,
      urgency: c.urgency.value,
      impact: c.impact.value,
      description: c.description.value.trim(),
    };
  }
  function showPreview(p) {
    preview.dataset.state = "fresh";
    replace(preview,
      h("h2", {}, "Computed before saving"),
      h("div", { class: "prio-line" },
        h("span", { class: `prio prio-big prio-${p.priority}`, id: "preview-priority", dataset: { priority: p.priority } }, p.priority),
        h("div", {}, h("div", { class: "muted small" }, "Priority"), h("strong", {}, `${label(c.urgency.value)} · ${label(c.impact.value)} · ${label(c.tier.value)}`))),
      h("dl", {},
        h("dt", {}, "First response"), h("dd", { id: "preview-response" }, `within ${minutes(p.response_target_minutes)}`),
        h("dt", {}, "Due by"), h("dd", {}, dateTime(p.response_due)),
        h("dt", {}, "Resolution"), h("dd", { id: "preview-resolution" }, `within ${minutes(p.resolution_target_minutes)}`),
        h("dt", {}, "Due by"), h("dd", {}, dateTime(p.resolution_due))),
      p.reasons && p.reasons.length ? [h("h3", {}, "Why"), h("ul", {}, p.reasons.map((r) => h("li", {}, r)))] : null);
  }

  let asked = 0;
  const refreshPreview = debounce(async () => {
    const ticket = ++asked;
    preview.dataset.state = "stale";
    try {
      // Priority depends only on urgency, impact and tier: text still to be typed does not
      // hold the preview back (nothing is saved).
      const draft = body();
      draft.description ||= "(not yet described)";
      draft.customer.name ||= "(customer not yet named)";
      const p = await api.post("/v1/intake/preview", draft);
      if (ticket === asked) showPreview(p);
    } catch (e) {
      if (ticket !== asked) return;
      replace(preview, h("h2", {}, "Computed before saving"),
        h("p", { class: "muted" }, e.status === 404 ? "This server cannot preview priorities yet; they are computed when you save." : `No preview yet: ${e.message}`));
    }
  }, 250);

  form.addEventListener("input", refreshPreview);
  form.addEventListener("change", refreshPreview);
  refreshPreview();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lat = number(c.lat);
    const lon = number(c.lon);
    const ok = check(form, [
      ["description", c.description.value.trim() ? null : "Describe the problem as the customer reported it."],
      ["customer.name", c.name.value.trim() ? null : "Enter the customer's name."],
      ["customer.contact.email", !c.email.value.trim() || EMAIL.test(c.email.value.trim()) ? null : "This is not an e-mail address."],
      ["customer.site.latitude", lat === null || (Number.isFinite(lat) && lat >= -90 && lat <= 90) ? null : "Latitude is a number from -90 to 90."],
      ["customer.site.longitude", lon === null || (Number.isFinite(lon) && lon >= -180 && lon <= 180) ? null : "Longitude is a number from -180 to 180."],
    ]);
    if (!ok) return;
    save.disabled = true;
    save.textContent = "Creating…";
    try {
      const created = await api.post("/v1/work-orders", body());
      clearErrors(form);
      ctx.toast(`${created.number} created with priority ${created.priority}`, "good");
      ctx.go(`#/wo/${created.id}`);
    } catch (e) {
      showApiError(form, e);
    } finally {
      save.disabled = false;
      save.textContent = "Create work order";
    }
  });
  c.description.focus();
  return { dispose: () => refreshPreview.cancel() };
}
