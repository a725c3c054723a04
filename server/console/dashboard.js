// The dashboard: KPIs for a date range, by period and by technician, with charts where people
// would rather look than read.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { check, field, showApiError } from "./forms.js";
import { barChart, hbarChart } from "./charts.js";
import { minutes, percent } from "./format.js";

const DAY = 86400000;

function isoDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function tile(labelText, value, sub, cls) {
  return h("div", { class: ["tile", cls] }, h("div", { class: "label" }, labelText), h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
}

function rate(r) {
  return r && r.percent !== null && r.percent !== undefined ? r.percent : null;
}

export async function render(root, ctx) {
  await ctx.technicians();
  const from = h("input", { type: "date", name: "from", value: isoDate(Date.now() - 29 * DAY) });
  const to = h("input", { type: "date", name: "to", value: isoDate(Date.now()) });
  const period = h("select", { name: "period" },
    h("option", { value: "day" }, "Day"),
    h("option", { value: "week", selected: true }, "Week"),
    h("option", { value: "month" }, "Month"));
  const form = h("form", { class: "filters", novalidate: true, "aria-label": "Report range" },
    field("From", from), field("To", to), field("Group by", period),
    h("button", { type: "submit", class: "btn btn-primary" }, "Show"));
  const body = h("div", { "aria-live": "polite" });
  replace(root,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Dashboard"),
      h("p", {}, "Service levels, fixes and customer voice. Jobs count in the period they were created."))),
    form, body);

  async function load() {
    const ok = check(form, [
      ["from", from.value ? null : "Choose the first day."],
      ["to", !to.value ? "Choose the last day." : from.value && to.value < from.value ? "The last day is before the first." : null],
    ]);
    if (!ok) return;
    // Whole days in the browser's time zone: from midnight to the midnight after the last day.
    const start = new Date(`${from.value}T00:00:00`);
    const end = new Date(new Date(`${to.value}T00:00:00`).getTime() + DAY);
    let report;
    try {
      report = await api.get(`/v1/kpis${api.query({ from: start.toISOString(), to: end.toISOString(), period: period.value, utc_offset_minutes: -start.getTimezoneOffset() })}`);
    } catch (e) {
      showApiError(form, e);
      return;
    }
    draw(report);
  }

  function draw(report) {
    const o = report.overall || {};
    const periods = report.by_period || [];
    const techs = (report.by_technician || []).slice()
      .map((t) => ({ ...t, name: ctx.techName(t.technician) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const slaR = rate(o.response_sla);
    const slaS = rate(o.resolution_sla);
    const sat = o.satisfaction || {};
    const nps = o.nps || {};
    replace(body,
      h("div", { class: "tiles" },
        tile("Work orders", o.work_orders ?? 0, `${o.completed ?? 0} completed · ${o.cancelled ?? 0} cancelled`),
        tile("First response", minutes(o.first_response?.median_minutes), `median of ${o.first_response?.count ?? 0}; mean ${minutes(o.first_response?.mean_minutes)}`),
        tile("Resolution", minutes(o.resolution?.median_minutes), `median of ${o.resolution?.count ?? 0}; mean ${minutes(o.resolution?.mean_minutes)}`),
        tile("Response SLA met", percent(slaR), `${o.response_sla?.hits ?? 0} of ${o.response_sla?.total ?? 0}`, slaR !== null && slaR < 90 ? "warn" : null),
        tile("Resolution SLA met", percent(slaS), `${o.resolution_sla?.hits ?? 0} of ${o.resolution_sla?.total ?? 0}`, slaS !== null && slaS < 90 ? "warn" : null),
        tile("First-time fix", percent(rate(o.first_time_fix)), `${o.first_time_fix?.hits ?? 0} of ${o.first_time_fix?.total ?? 0}`),
        tile("Repeat repairs (30 d)", percent(rate(o.repeat_repairs)), `${o.repeat_repairs?.hits ?? 0} of ${o.repeat_repairs?.total ?? 0}`, rate(o.repeat_repairs) > 10 ? "bad" : null),
        tile("Satisfaction", sat.mean !== null && sat.mean !== undefined ? `${sat.mean.toFixed(1)} / 5` : "—", `${sat.responses ?? 0} answers`),
        tile("NPS", nps.score !== null && nps.score !== undefined ? Math.round(nps.score) : "—", `${nps.promoters ?? 0} promoters · ${nps.detractors ?? 0} detractors`)),
      periods.length === 0 ? h("div", { class: "panel empty" }, "No work orders were created in this range.") : [
        h("div", { class: "grid-2" },
          h("section", { class: "panel" }, h("h2", {}, "SLA compliance by period"),
            barChart({
              title: "Share of response and resolution clocks met, by period",
              labels: periods.map((p) => p.label),
              series: [
                { name: "Response", values: periods.map((p) => rate(p.figures.response_sla)) },
                { name: "Resolution", values: periods.map((p) => rate(p.figures.resolution_sla)), cls: "alt" },
              ],
              max: 100,
              target: 90,
              format: (v) => `${Math.round(v)}%`,
            }),
            h("div", { class: "chart-legend" }, h("span", {}, "Response"), h("span", { class: "alt" }, "Resolution"), h("span", { class: "target" }, "90% target"))),
          h("section", { class: "panel" }, h("h2", {}, "Work orders by period"),
            barChart({
              title: "Work orders created and completed, by period",
              labels: periods.map((p) => p.label),
              series: [
                { name: "Created", values: periods.map((p) => p.figures.work_orders) },
                { name: "Completed", values: periods.map((p) => p.figures.completed), cls: "good" },
              ],
            }),
            h("div", { class: "chart-legend" }, h("span", {}, "Created"), h("span", { class: "good" }, "Completed")))),
        h("section", { class: "panel" }, h("h2", {}, "Median resolution time by period"),
          barChart({
            title: "Median hours from creation to completion, by period",
            labels: periods.map((p) => p.label),
            series: [{ name: "Median resolution", values: periods.map((p) => (p.figures.resolution?.median_minutes ?? null) === null ? null : p.figures.resolution.median_minutes / 60) }],
            format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} h`,
          }))],
      techs.length === 0 ? null : [
        h("section", { class: "panel" }, h("h2", {}, "First-time fix rate by technician"),
          hbarChart({
            title: "First-time fix rate by technician",
            rows: techs.map((t) => ({ label: t.name, value: rate(t.figures.first_time_fix), cls: (rate(t.figures.first_time_fix) ?? 100) < 70 ? "bad" : "good" })),
            max: 100,
            format: (v) => `${Math.round(v)}%`,
          })),
        h("section", { class: "panel" }, h("h2", {}, "By technician"),
          h("div", { class: "table-wrap" }, h("table", { id: "kpi-technicians" },
            h("thead", {}, h("tr", {}, ["Technician", "Jobs", "Completed", "Median response", "Median resolution", "Response SLA", "Resolution SLA", "First-time fix", "Repeats", "Satisfaction", "NPS"]
              .map((t, i) => h("th", { scope: "col", class: i ? "num" : null }, t)))),
            h("tbody", {}, techs.map((t) => {
              const f = t.figures;
              return h("tr", {},
                h("td", {}, t.name),
                h("td", { class: "num" }, f.work_orders),
                h("td", { class: "num" }, f.completed),
                h("td", { class: "num" }, minutes(f.first_response?.median_minutes)),
                h("td", { class: "num" }, minutes(f.resolution?.median_minutes)),
                h("td", { class: "num" }, percent(rate(f.response_sla))),
                h("td", { class: "num" }, percent(rate(f.resolution_sla))),
                h("td", { class: "num" }, percent(rate(f.first_time_fix))),
                h("td", { class: "num" }, percent(rate(f.repeat_repairs))),
                h("td", { class: "num" }, f.satisfaction?.mean !== null && f.satisfaction?.mean !== undefined ? f.satisfaction.mean.toFixed(1) : "—"),
                h("td", { class: "num" }, f.nps?.score !== null && f.nps?.score !== undefined ? Math.round(f.nps.score) : "—"));
            })))))],
      (report.repeats || []).length ? h("section", { class: "panel" }, h("h2", {}, "Repeat repairs within 30 days"),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Asset serial", "Repaired", "By", "Came back as", "Days later"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, report.repeats.map((r) => h("tr", {},
            h("td", { class: "mono" }, r.serial),
            h("td", {}, h("a", { href: `#/wo/${r.repaired}` }, r.repaired_number)),
            h("td", {}, r.repaired_by ? ctx.techName(r.repaired_by) : "—"),
            h("td", {}, h("a", { href: `#/wo/${r.repeat}` }, r.repeat_number)),
            h("td", { class: "num" }, r.days_later.toFixed(1)))))))) : null);
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  await load();
  return { refresh: load };
}
