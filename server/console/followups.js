// Follow-up calls: jobs completed 48 hours ago or more whose customer has not been asked yet;
// the dispatcher records satisfaction (1–5), NPS (0–10) and a comment.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { check, showApiError } from "./forms.js";
import { dateTime } from "./format.js";

function scale(name, from, to, legend) {
  return h("fieldset", { class: "field", "data-field": name },
    h("legend", { class: "label" }, legend),
    h("div", { class: "choice-row" },
      Array.from({ length: to - from + 1 }, (_, i) => from + i).map((n) =>
        h("label", {}, h("input", { type: "radio", name, value: n }), h("span", {}, n)))),
    h("div", { class: "field-error" }));
}

export async function render(root, ctx) {
  await ctx.technicians();
  const list = h("div", { class: "stack" });
  replace(root,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Follow-ups"),
      h("p", {}, "Call customers 48 hours after completion: did the fix hold, and how did we do?"))),
    list);

  function card(f) {
    const comment = h("textarea", { name: "comment", rows: 2, placeholder: "What the customer said, or why there are no scores" });
    const form = h("form", { class: "panel", novalidate: true, dataset: { workOrder: f.work_order } },
      h("div", { class: "panel-head" },
        h("h2", {}, h("a", { href: `#/wo/${f.work_order}` }, f.number), ` · ${f.customer_name}`),
        h("span", { class: "muted small" }, `Completed ${dateTime(f.completed_at)} by ${ctx.techName(f.technician)} · due ${dateTime(f.due_at)}`)),
      h("div", { class: "form-error", role: "alert" }),
      h("div", { class: "form-grid" },
        scale("satisfaction", 1, 5, "Satisfaction (1 = very unhappy, 5 = very happy)"),
        scale("nps", 0, 10, "How likely to recommend us (0–10)"),
        h("div", { class: "field wide" }, h("label", { for: `c-${f.work_order}` }, "Comment"), Object.assign(comment, { id: `c-${f.work_order}` }), h("div", { class: "field-error" }))),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Record follow-up")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const sat = form.querySelector('input[name="satisfaction"]:checked');
      const nps = form.querySelector('input[name="nps"]:checked');
      const ok = check(form, [
        ["comment", sat || nps || comment.value.trim() ? null : "No scores: say why (e.g. customer unreachable)."],
      ]);
      if (!ok) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api.post(`/v1/work-orders/${f.work_order}/follow-up`, {
          satisfaction: sat ? Number(sat.value) : null,
          nps: nps ? Number(nps.value) : null,
          comment: comment.value.trim(),
        });
        ctx.toast(`Follow-up for ${f.number} recorded`, "good");
        await load();
      } catch (err) {
        showApiError(form, err);
        button.disabled = false;
      }
    });
    return form;
  }

  async function load() {
    let due;
    try {
      const data = await api.get("/v1/follow-ups");
      due = Array.isArray(data) ? data : data.items || data.follow_ups || [];
    } catch (e) {
      replace(list, h("div", { class: "panel form-error" }, e.status === 404 ? "This server does not track follow-ups yet." : e.message));
      return;
    }
    // Keep cards someone is filling in; add new ones, drop recorded ones.
    const open = new Map([...list.querySelectorAll("form[data-work-order]")].map((f) => [f.dataset.workOrder, f]));
    if (due.length === 0) {
      replace(list, h("div", { class: "panel empty" }, "No follow-up calls are due."));
      return;
    }
    replace(list, due.map((f) => open.get(f.work_order) || card(f)));
  }

  await load();
  return { refresh: load };
}
