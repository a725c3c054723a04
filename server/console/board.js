// The board: work orders with filters, SLA countdowns that tick every second, and live
// refreshes when anything changes (new statuses flash briefly).

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { field, select } from "./forms.js";
import { CATEGORIES, PRIORITIES, STATUSES, TIERS, label, millis, shortTime, slaText } from "./format.js";

const PAGE = 50;
const FILTER_KEY = "fieldsync.console.board";
const DONE = new Set(["completed", "closed", "cancelled"]);

function savedFilters() {
  try {
    return { status: "open", priority: "", technician: "", region: "", tier: "", offset: 0, ...JSON.parse(sessionStorage.getItem(FILTER_KEY) || "{}") };
  } catch {
    return { status: "open", priority: "", technician: "", region: "", tier: "", offset: 0 };
  }
}

/** The clock a row counts down, from the server's `sla` or, failing that, its due times. */
export function slaOf(row, fetchedAt, now = Date.now()) {
  const elapsed = (now - fetchedAt) / 1000;
  if (row.sla && row.sla.state) {
    let state = row.sla.state;
    const remaining = (row.sla.remaining_seconds ?? 0) - (state === "paused" || state === "met" ? 0 : elapsed);
    if ((state === "ok" || state === "running" || state === "near_breach") && remaining < 0) state = "breached";
    return { state, remaining };
  }
  if (DONE.has(row.status)) return { state: "done", remaining: 0 };
  const responding = row.status === "new" || row.status === "assigned";
  const due = millis(responding ? row.response_due : row.resolution_due);
  const created = millis(row.created_at);
  if (due === null) return { state: "done", remaining: 0 };
  const remaining = (due - now) / 1000;
  const target = created === null ? 0 : (due - created) / 1000;
  const state = remaining < 0 ? "breached" : remaining < target / 4 ? "near_breach" : "ok";
  return { state, remaining };
}

function slaCell(row, fetchedAt) {
  const el = h("span", { class: "sla" });
  const paint = () => {
    const { state, remaining } = slaOf(row, fetchedAt);
    el.className = `sla sla-${state}`;
    el.dataset.state = state;
    el.textContent = state === "done" ? label(row.status) : slaText(state, remaining);
    el.title = `Response due ${shortTime(row.sla?.response_due ?? row.response_due)}, resolution due ${shortTime(row.sla?.resolution_due ?? row.resolution_due)}`;
  };
  paint();
  return { el, paint };
}

export async function render(root, ctx) {
  const filters = savedFilters();
  const techs = await ctx.technicians();
  const regions = [...new Set([...techs.values()].map((t) => t.region).filter(Boolean))].sort();
  let lastStatus = new Map();
  let clocks = [];

  const statusSel = h("select", { name: "status" },
    h("option", { value: "open" }, "Open"),
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, label(s))));
  statusSel.value = filters.status;
  const prioritySel = select("priority", PRIORITIES, (p) => p, { value: filters.priority, empty: "Any priority" });
  const techSel = h("select", { name: "technician" },
    h("option", { value: "" }, "Anyone"),
    [...techs.values()].sort((a, b) => a.display_name.localeCompare(b.display_name))
      .map((t) => h("option", { value: t.id, selected: t.id === filters.technician }, t.display_name)));
  const regionInput = h("input", { name: "region", list: "board-regions", value: filters.region, placeholder: "Any region", autocomplete: "off" });
  const tierSel = select("tier", TIERS, label, { value: filters.tier, empty: "Any tier" });

  const summary = h("div", { class: "sla-legend", "aria-live": "polite" });
  const tbody = h("tbody");
  const pager = h("div", { class: "pager" });
  const formError = h("div", { class: "form-error", role: "alert" });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter work orders", onsubmit: (e) => e.preventDefault() },
    field("Status", statusSel),
    field("Priority", prioritySel),
    field("Technician", techSel),
    field("Region", regionInput),
    h("datalist", { id: "board-regions" }, regions.map((r) => h("option", { value: r }))),
    field("Customer tier", tierSel),
    h("button", { type: "button", class: "btn", onclick: () => { Object.assign(filters, { status: "open", priority: "", technician: "", region: "", tier: "", offset: 0 }); syncControls(); load(); } }, "Reset"));

  const table = h("div", { class: "table-wrap" },
    h("table", { class: "board", "aria-label": "Work orders" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Work order"),
        h("th", { scope: "col" }, "Priority"),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col" }, "Customer"),
        h("th", { scope: "col", class: "col-opt" }, "Region"),
        h("th", { scope: "col", class: "col-opt" }, "Category"),
        h("th", { scope: "col" }, "Technician"),
        h("th", { scope: "col" }, "SLA"),
        h("th", { scope: "col", class: "col-opt2" }, "Created"))),
      tbody));

  replace(root,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Work orders"), h("p", {}, "Updates arrive live as technicians work and sync.")),
      h("div", { class: "page-actions" }, h("a", { class: "btn btn-primary", href: "#/new" }, "New work order"))),
    filterForm, formError, summary, table, pager);

  function syncControls() {
    statusSel.value = filters.status;
    prioritySel.value = filters.priority;
    techSel.value = filters.technician;
    regionInput.value = filters.region;
    tierSel.value = filters.tier;
  }

  function readControls() {
    filters.status = statusSel.value;
    filters.priority = prioritySel.value;
    filters.technician = techSel.value;
    filters.region = regionInput.value.trim();
    filters.tier = tierSel.value;
    filters.offset = 0;
  }

  for (const el of [statusSel, prioritySel, techSel, tierSel]) el.addEventListener("change", () => { readControls(); load(); });
  regionInput.addEventListener("change", () => { readControls(); load(); });

  function row(item, fetchedAt) {
    const clock = slaCell(item, fetchedAt);
    clocks.push(clock);
    const changed = lastStatus.has(item.id) && lastStatus.get(item.id) !== item.status;
    const tr = h("tr", { dataset: { id: item.id, number: item.number, status: item.status }, class: changed ? "flash" : null },
      h("td", {}, h("a", { class: "wo", href: `#/wo/${item.id}` }, item.number),
        item.conflicts > 0 ? [" ", h("span", { class: "flag", title: "Conflicting edits to review" }, `⚑ ${item.conflicts}`)] : null),
      h("td", {}, h("span", { class: `prio prio-${item.priority}` }, item.priority)),
      h("td", {}, h("span", { class: `chip status-${item.status}`, "data-role": "status" }, label(item.status))),
      h("td", {}, h("span", { class: "customer" }, item.customer_name,
        h("small", {}, h("span", { class: `tier tier-${item.tier}` }, label(item.tier))))),
      h("td", { class: "col-opt" }, item.region || "—"),
      h("td", { class: "col-opt" }, label(item.category)),
      h("td", {}, item.assignee ? ctx.techName(item.assignee) : h("span", { class: "muted" }, "Unassigned")),
      h("td", {}, clock.el),
      h("td", { class: "col-opt2 small muted" }, shortTime(item.created_at)));
    tr.addEventListener("click", (e) => {
      if (e.target.closest("a")) return;
      ctx.go(`#/wo/${item.id}`);
    });
    return tr;
  }

  let loading = 0;
  async function load() {
    sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
    const ticket = ++loading;
    const params = {
      status: filters.status === "open" ? "" : filters.status,
      open: filters.status === "open" ? "true" : "",
      priority: filters.priority,
      technician: filters.technician,
      region: filters.region,
      tier: filters.tier,
      limit: PAGE,
      offset: filters.offset || "",
    };
    let page;
    try {
      page = await api.get(`/v1/work-orders${api.query(params)}`);
    } catch (e) {
      if (ticket !== loading) return;
      formError.textContent = e.message;
      return;
    }
    if (ticket !== loading) return;
    formError.textContent = "";
    const fetchedAt = Date.now();
    clocks = [];
    if (page.items.length === 0) {
      replace(tbody, h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No work orders match these filters.")));
    } else {
      replace(tbody, page.items.map((item) => row(item, fetchedAt)));
    }
    lastStatus = new Map(page.items.map((i) => [i.id, i.status]));
    const counts = { breached: 0, near_breach: 0 };
    for (const c of clocks) counts[c.el.dataset.state] = (counts[c.el.dataset.state] || 0) + 1;
    const unassigned = page.items.filter((i) => !i.assignee && !DONE.has(i.status)).length;
    replace(summary,
      h("span", {}, `${page.total} work order${page.total === 1 ? "" : "s"}`),
      h("span", { class: counts.breached ? "sla sla-breached" : "sla sla-done" }, `${counts.breached} breached`),
      h("span", { class: counts.near_breach ? "sla sla-near_breach" : "sla sla-done" }, `${counts.near_breach} near breach`),
      h("span", {}, `${unassigned} unassigned on this page`));
    const from = page.total === 0 ? 0 : filters.offset + 1;
    const to = Math.min(filters.offset + page.items.length, page.total);
    replace(pager,
      h("span", {}, `Showing ${from}–${to} of ${page.total}`),
      h("span", { class: "page-actions" },
        h("button", { type: "button", class: "btn btn-small", disabled: filters.offset === 0, onclick: () => { filters.offset = Math.max(0, filters.offset - PAGE); load(); } }, "← Previous"),
        h("button", { type: "button", class: "btn btn-small", disabled: to >= page.total, onclick: () => { filters.offset += PAGE; load(); } }, "Next →")));
  }

  await load();
  const ticker = setInterval(() => { for (const c of clocks) c.paint(); }, 1000);
  return {
    refresh: load,
    dispose: () => clearInterval(ticker),
  };
}
