// One work order in full: SLA clocks, assignment with ranked suggestions, the status timeline
// with device and server times, parts, repair records, notes, conflicts and rejected edits to
// review, attachments, and the office's own actions (cancel, close).

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { check, field, showApiError } from "./forms.js";
import { dateTime, label, millis, preciseTime, slaText, span } from "./format.js";

const DONE = new Set(["completed", "closed", "cancelled"]);
const ASSIGNABLE = new Set(["new", "assigned", "accepted", "on_hold"]);

const CONFLICTS = {
  worked_after_cancellation: "The technician worked on the job after the office cancelled it; the work was kept.",
  cancelled_after_work_started: "The office cancelled the job after work had started on site; the cancellation was set aside.",
  reassigned_during_work: "The job was reassigned while its technician was working on it; the reassignment was set aside.",
  skipped_steps: "Field progress arrived out of order; it was kept.",
  out_of_order: "A status change would have moved the job backwards; it was set aside.",
};

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function clockBox(title, state, due, doneAt, extra) {
  const value = h("span", { class: "sla" });
  const paint = () => {
    const remaining = ((millis(due) ?? Date.now()) - Date.now()) / 1000;
    const word = state === "running" ? (remaining < 0 ? "breached" : "running") : state;
    value.className = `sla sla-${word}`;
    value.textContent = slaText(word, remaining);
  };
  paint();
  return {
    el: h("div", { class: "clock" },
      h("div", { class: "label" }, title),
      value,
      h("div", { class: "due" }, `Due ${dateTime(due)}`),
      doneAt ? h("div", { class: "due" }, `Done ${dateTime(doneAt)}`) : null,
      extra ? h("div", { class: "due" }, extra) : null),
    paint,
  };
}

export async function render(root, ctx, id) {
  let view = null;
  let ticking = [];
  let suggestionsFor = null;
  // Forms are rebuilt only when the state they act on changed, so a live refresh keeps what
  // the dispatcher is typing.
  let actionsFor = null;
  let assignFor = null;
  const $ = {
    head: h("div", { class: "page-head" }),
    clocks: h("section", { class: "panel", "aria-label": "SLA clocks" }),
    reviews: h("section", { class: "panel", id: "reviews", "aria-label": "To review" }),
    work: h("section", { class: "panel", "aria-label": "Problem and notes" }),
    timeline: h("section", { class: "panel", "aria-label": "Timeline" }),
    parts: h("section", { class: "panel", "aria-label": "Parts used" }),
    repairs: h("section", { class: "panel", "aria-label": "Repair records" }),
    attachments: h("section", { class: "panel", "aria-label": "Attachments" }),
    assign: h("section", { class: "panel", id: "assign", "aria-label": "Assignment" }),
    suggestions: h("div"),
    info: h("section", { class: "panel", "aria-label": "Customer and asset" }),
    actions: h("section", { class: "panel", "aria-label": "Office actions" }),
  };
  replace(root, $.head,
    h("div", { class: "grid-2" },
      h("div", { class: "stack" }, $.clocks, $.reviews, $.work, $.timeline, $.parts, $.repairs, $.attachments),
      h("div", { class: "stack" }, $.assign, $.info, $.actions)));

  async function load() {
    try {
      view = await api.get(`/v1/work-orders/${id}`);
    } catch (e) {
      if (e.status === 404) {
        replace(root, h("div", { class: "panel" }, h("h1", {}, "Work order not found"), h("p", {}, e.message), h("a", { href: "#/board" }, "Back to the board")));
        return;
      }
      throw e;
    }
    draw();
  }

  function draw() {
    const v = view;
    document.title = `${v.number} · Fieldsync`;
    const openConflicts = v.conflict_reviews ? v.conflict_reviews.filter((r) => !r.resolved).length : (v.conflicts || []).length;
    const conflictCount = openConflicts + (v.rejected_edits || []).filter((r) => !r.resolved).length;
    replace($.head,
      h("div", {},
        h("a", { href: "#/board", class: "small" }, "← Board"),
        h("div", { class: "detail-head" },
          h("h1", { id: "wo-number" }, v.number),
          h("span", { class: `chip status-${v.status}`, id: "wo-status", dataset: { status: v.status } }, label(v.status)),
          h("span", { class: `prio prio-${v.priority}`, id: "wo-priority" }, v.priority),
          h("span", { class: `tier tier-${v.customer.tier}` }, label(v.customer.tier)),
          conflictCount ? h("a", { class: "flag", href: "#reviews", onclick: (e) => { e.preventDefault(); $.reviews.scrollIntoView(); } }, `⚑ ${conflictCount} to review`) : null),
        h("p", {}, `${v.customer.name} · ${label(v.category)} · ${label(v.urgency)} urgency, ${label(v.impact)} · via ${label(v.channel)}`)));

    const sla = v.sla || {};
    const paused = sla.paused_millis ? `On hold for the customer ${span(sla.paused_millis / 1000)} so far (not counted)` : null;
    ticking = [
      clockBox("First response", sla.response, sla.response_due, sla.responded_at, null),
      clockBox("Resolution", sla.resolution, sla.resolution_due, sla.resolved_at, paused),
    ];
    replace($.clocks, h("div", { class: "panel-head" }, h("h2", {}, "SLA"),
      sla.targets ? h("span", { class: "muted small" }, `Targets: response ${sla.targets.response_minutes} min, resolution ${Math.round(sla.targets.resolution_minutes / 60)} h`) : null),
    h("div", { class: "clocks" }, ticking.map((t) => t.el)),
    sla.times_adjusted ? h("p", { class: "small muted" }, "Some device times were out of order or before the job existed; they were moved to fit.") : null);

    drawReviews(v);
    replace($.work, h("h2", {}, "Problem"), h("p", { class: "notes" }, v.description || "—"),
      h("h3", {}, "Technician's notes"),
      v.notes ? h("p", { class: "notes", id: "wo-notes" }, v.notes) : h("p", { class: "muted" }, "No notes yet."),
      v.completion ? [h("h3", {}, "Completion"), facts([
        ["Resolution", v.completion.resolution],
        ["Signed by", v.completion.signed_by || "not signed"],
        ["First-time fix", v.completion.first_time_fix ? "Yes" : "No"],
        ["By", `${ctx.techName(v.completion.by)} at ${dateTime(v.completion.at)}`],
      ])] : null);
    drawTimeline(v);
    drawParts(v);
    drawRepairs(v);
    drawAttachments(v);
    drawAssign(v);
    replace($.info, h("h2", {}, "Customer and asset"), facts([
      ["Customer", v.customer.name],
      ["Tier", label(v.customer.tier)],
      ["Site", v.customer.site.address],
      ["Region", v.customer.site.region],
      ["Contact", [v.customer.contact.name, v.customer.contact.phone, v.customer.contact.email].filter(Boolean).join(" · ")],
      ["Asset", [v.asset.model, v.asset.serial && `serial ${v.asset.serial}`].filter(Boolean).join(", ")],
      ["Created", `${dateTime(v.created_at)} by ${ctx.techName(v.created_by, "the office")}`],
      ["Schedule", v.schedule ? `${dateTime(v.schedule.start)} – ${dateTime(v.schedule.end)}` : null],
    ]));
    drawActions(v);
  }

  function drawTimeline(v) {
    const setAside = new Map((v.conflicts || []).map((c) => [c.event, c.kind]));
    // The server's timeline is in the order events took effect; bare status events go by time.
    const events = v.timeline || (v.status_events || []).slice().sort((a, b) => (millis(a.at) ?? 0) - (millis(b.at) ?? 0));
    replace($.timeline, h("h2", {}, "Timeline"),
      events.length === 0 ? h("p", { class: "muted" }, "No status changes yet.") :
        h("ol", { class: "timeline", id: "wo-timeline" }, events.map((e) => {
          const device = e.device_time ?? e.at;
          const server = e.server_time ?? e.received_at ?? null;
          const skew = server !== null && millis(device) !== null ? (millis(server) - millis(device)) / 1000 : 0;
          const kind = setAside.get(e.event ?? e.id) || (e.set_aside ? "out_of_order" : null);
          return h("li", { class: kind ? "set-aside" : null },
            h("div", {},
              h("strong", {}, label(e.status)),
              e.hold ? ` · ${label(e.hold)}` : null,
              " — ", e.by_name || ctx.techName(e.by, e.role === "technician" ? "a technician" : "the office"), e.role ? h("span", { class: "muted" }, ` (${label(e.role)})`) : null,
              e.reason ? h("div", { class: "small" }, `“${e.reason}”`) : null,
              kind ? h("div", { class: "small flag" }, CONFLICTS[kind] || label(kind)) : null,
              h("div", { class: "times" },
                `Device ${preciseTime(device)}`,
                server !== null ? ` · Server ${preciseTime(server)}` : null,
                skew > 300 ? h("span", { class: "skew" }, ` · synced ${span(skew)} later`) : null)));
        })));
  }

  function drawParts(v) {
    const parts = v.part_usages || [];
    replace($.parts, h("div", { class: "panel-head" }, h("h2", {}, "Parts used"), h("span", { class: "muted small" }, `${v.parts_used ?? parts.length} in total`)),
      parts.length === 0 ? h("p", { class: "muted" }, "No parts recorded.") :
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Part", "Qty", "From", "Serial", "Recorded"].map((t) => h("th", { scope: "col", class: t === "Qty" ? "num" : null }, t)))),
          h("tbody", {}, parts.map((p) => h("tr", {},
            h("td", {}, h("span", { class: "mono" }, p.part_number), p.refurbished ? [" ", h("span", { class: "tag" }, "refurbished")] : null),
            h("td", { class: "num" }, p.quantity),
            h("td", {}, p.source_location),
            h("td", {}, p.serial || "—"),
            h("td", { class: "small" }, `${ctx.techName(p.by)}, ${dateTime(p.at)}`)))))));
  }

  function drawRepairs(v) {
    const records = v.repair_records || [];
    replace($.repairs, h("h2", {}, "Repair records"),
      records.length === 0 ? h("p", { class: "muted" }, "No repair records yet.") :
        records.map((r) => h("div", { class: "review resolved" },
          h("div", {}, h("strong", {}, r.diagnosis || "Diagnosis not given")),
          h("div", {}, r.action_taken),
          h("div", {}, (r.measurements || []).map((m) => h("span", { class: "measure" }, `${m.name} ${m.value} ${m.unit}`))),
          h("div", { class: "small muted" }, `${ctx.techName(r.by)}, ${dateTime(r.at)}`))));
  }

  function drawReviews(v) {
    const reviews = new Map((v.conflict_reviews || []).map((r) => [r.event, r]));
    const conflicts = (v.conflicts || []).map((c) => ({ ...c, review: reviews.get(c.event) || (v.conflict_reviews || [])[v.conflicts.indexOf(c)] }));
    const rejected = v.rejected_edits || [];
    if (conflicts.length === 0 && rejected.length === 0) {
      $.reviews.hidden = true;
      return;
    }
    $.reviews.hidden = false;
    const resolveButton = (reviewId) => {
      if (!reviewId) return null;
      const b = h("button", { type: "button", class: "btn btn-small" }, "Mark reviewed");
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          view = await api.post(`/v1/work-orders/${id}/reviews/${encodeURIComponent(reviewId)}/resolve`, { note: "" });
          ctx.toast("Marked as reviewed", "good");
          draw();
        } catch (e) {
          ctx.toast(e.message, "bad");
          b.disabled = false;
        }
      });
      return b;
    };
    replace($.reviews, h("h2", {}, "To review"),
      conflicts.map((c) => h("div", { class: ["review", c.review?.resolved ? "resolved" : null] },
        h("div", {}, h("span", { class: "flag" }, "Conflict"), " ", h("strong", {}, `${label(c.from)} → ${label(c.to)}`)),
        h("p", { class: "small" }, CONFLICTS[c.kind] || label(c.kind)),
        c.review?.resolved
          ? h("div", { class: "small muted" }, `Reviewed by ${ctx.techName(c.review.resolved_by)}, ${dateTime(c.review.resolved_at)}${c.review.note ? `: ${c.review.note}` : ""}`)
          : resolveButton(c.review?.review_id))),
      rejected.map((r) => {
        const done = r.resolved || r.resolved_at;
        return h("div", { class: ["review", done ? "resolved" : null] },
          h("div", {}, h("span", { class: "flag" }, "Rejected edit"), " ",
            h("strong", {}, r.username || r.by_name || ctx.techName(r.by || r.user)),
            r.device_time || r.at ? h("span", { class: "muted small" }, ` · ${dateTime(r.device_time || r.at)}`) : null),
          h("p", { class: "small" }, r.reason || r.detail || r.message || ""),
          r.detail && r.reason ? h("p", { class: "small muted" }, r.detail) : null,
          done ? h("div", { class: "small muted" }, `Reviewed${r.resolved_by ? ` by ${ctx.techName(r.resolved_by)}` : ""}${r.resolved_at ? `, ${dateTime(r.resolved_at)}` : ""}`) : resolveButton(r.id));
      }));
  }

  function drawAttachments(v) {
    const items = v.attachments || [];
    if (items.length === 0) {
      $.attachments.hidden = true;
      return;
    }
    $.attachments.hidden = false;
    const grid = h("div", { class: "attachments" });
    replace($.attachments, h("h2", {}, "Photos, signature and documents"), grid);
    for (const a of items) {
      const caption = h("figcaption", {}, `${label(a.kind)} · ${a.file_name || a.sha256.slice(0, 10)}`,
        h("br"), `${ctx.techName(a.added_by)}, ${dateTime(a.added_at)}`);
      if ((a.content_type || "").startsWith("image/")) {
        const img = h("img", { alt: `${label(a.kind)} ${a.file_name || ""}`.trim(), class: a.kind === "signature" ? "signature" : null });
        grid.append(h("figure", {}, img, caption));
        api.blobUrl(`/v1/blobs/${a.sha256}`).then((url) => { img.src = url; }).catch(() => { img.alt = "Could not load the image"; });
      } else {
        const link = h("a", { href: "#", class: "btn btn-small" }, "Open");
        link.addEventListener("click", async (e) => {
          e.preventDefault();
          try { window.open(await api.blobUrl(`/v1/blobs/${a.sha256}`), "_blank", "noopener"); } catch (err) { ctx.toast(err.message, "bad"); }
        });
        grid.append(h("figure", {}, h("div", { class: "empty" }, link), caption));
      }
    }
  }

  async function assign(technician, button) {
    if (button) button.disabled = true;
    try {
      view = await api.post(`/v1/work-orders/${id}/assign`, { technician, expected_version: view.version ?? null });
      ctx.toast(`${view.number} assigned to ${ctx.techName(technician)}`, "good");
      suggestionsFor = null;
      assignFor = null;
      draw();
    } catch (e) {
      if (button) button.disabled = false;
      if (stale(e)) return;
      ctx.toast(e.message, "bad");
    }
  }

  /** A refused stale edit: say so, and show what the work order is now. */
  function stale(e) {
    if (e.status !== 409) return false;
    ctx.toast(`${e.message} The page now shows the current state; decide again.`, "bad");
    suggestionsFor = null;
    assignFor = null;
    actionsFor = null;
    load().catch(() => {});
    return true;
  }

  function drawAssign(v) {
    const formKey = `${v.status}:${v.assignee}`;
    if (assignFor === formKey) return;
    assignFor = formKey;
    const current = v.assignee ? ctx.techName(v.assignee) : null;
    const canAssign = ASSIGNABLE.has(v.status);
    const manual = h("select", { name: "technician", "aria-label": "Technician" },
      h("option", { value: "" }, "Choose a technician…"));
    ctx.technicians().then((techs) => {
      for (const t of [...techs.values()].sort((a, b) => a.display_name.localeCompare(b.display_name))) {
        manual.append(h("option", { value: t.id }, `${t.display_name}${t.region ? ` · ${t.region}` : ""}`));
      }
    });
    const manualForm = h("form", { class: "form-actions", novalidate: true },
      h("div", { class: "field" }, manual, h("div", { class: "field-error" })),
      h("button", { type: "submit", class: "btn" }, "Assign"));
    manualForm.addEventListener("submit", (e) => {
      e.preventDefault();
      if (check(manualForm, [["technician", manual.value ? null : "Choose who should do the job."]])) assign(manual.value, null);
    });
    replace($.assign,
      h("div", { class: "panel-head" }, h("h2", {}, "Assignment"),
        current ? h("span", { id: "wo-assignee" }, "Assigned to ", h("strong", {}, current)) : h("span", { class: "muted", id: "wo-assignee" }, "Unassigned")),
      canAssign ? [h("h3", {}, current ? "Reassign: suggested technicians" : "Suggested technicians"), $.suggestions, h("h3", {}, "Or pick someone"), manualForm]
        : h("p", { class: "muted small" }, DONE.has(v.status) ? "The job is done." : "Work is under way; reassigning now would be set aside."));
    const key = `${v.status}:${v.assignee}`;
    if (canAssign && suggestionsFor !== key) {
      suggestionsFor = key;
      loadSuggestions();
    }
  }

  async function loadSuggestions() {
    replace($.suggestions, h("p", { class: "loading" }, "Ranking technicians…"));
    let list;
    try {
      list = (await api.get(`/v1/work-orders/${id}/suggestions?limit=5`)).suggestions;
    } catch (e) {
      replace($.suggestions, h("p", { class: "muted small" }, e.status === 404 && !e.message.includes("work order") ? "This server does not rank technicians yet." : e.message));
      return;
    }
    if (!list.length) {
      replace($.suggestions, h("p", { class: "muted" }, "No technician is available."));
      return;
    }
    replace($.suggestions, h("ol", { class: "suggestions", id: "suggestions" }, list.map((s, i) => {
      const button = h("button", { type: "button", class: ["btn", "btn-small", i === 0 ? "btn-primary" : null], dataset: { technician: s.technician_id }, "aria-label": `Assign ${s.name}` }, "Assign");
      button.addEventListener("click", () => assign(s.technician_id, button));
      const isCurrent = view.assignee === s.technician_id;
      return h("li", { class: "suggestion", dataset: { technician: s.technician_id } },
        h("span", { class: "rank", "aria-label": `Rank ${s.rank ?? i + 1}` }, s.rank ?? i + 1),
        h("div", {},
          h("div", { class: "name" }, s.name),
          h("div", { class: "meta" },
            h("span", { class: ["tag", s.skill_match ? "good" : "bad"] }, s.skill_match ? "has the skill" : "lacks the skill"),
            s.senior ? h("span", { class: "tag good" }, "senior") : null,
            h("span", { class: "tag" }, s.distance_km === null || s.distance_km === undefined ? "distance unknown" : `${s.distance_km.toFixed(1)} km`),
            h("span", { class: "tag" }, `${s.open_jobs} open job${s.open_jobs === 1 ? "" : "s"}`)),
          h("ul", {}, (s.reasons || []).map((r) => h("li", {}, r)))),
        isCurrent ? h("span", { class: "muted small" }, "current") : button);
    })));
  }

  function drawActions(v) {
    if (actionsFor === v.status) return;
    actionsFor = v.status;
    const items = [];
    if (v.status === "completed") {
      const close = h("button", { type: "button", class: "btn" }, "Close work order");
      close.addEventListener("click", () => act({ action: "close" }, close, "closed"));
      items.push(h("p", { class: "small muted" }, "The technician completed the job. Close it once the paperwork is done."), close);
    }
    if (!DONE.has(v.status)) {
      const reason = h("input", { name: "reason", placeholder: "Why is it cancelled?" });
      const form = h("form", { novalidate: true },
        field("Cancel with reason", reason),
        h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-danger" }, "Cancel work order")));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!check(form, [["reason", reason.value.trim() ? null : "Say why, for the customer record and the technician."]])) return;
        act({ action: "cancel", reason: reason.value.trim() }, form.querySelector("button"), "cancelled", form);
      });
      items.push(form);
    }
    $.actions.hidden = items.length === 0;
    replace($.actions, h("h2", {}, "Office actions"), items);
  }

  async function act(action, button, word, form) {
    button.disabled = true;
    try {
      view = await api.post(`/v1/work-orders/${id}/actions${api.query({ expected_version: view.version })}`, action);
      ctx.toast(`${view.number} ${word}`, "good");
      draw();
    } catch (e) {
      button.disabled = false;
      if (stale(e)) return;
      if (form) showApiError(form, e);
      else ctx.toast(e.message, "bad");
    }
  }

  await load();
  const ticker = setInterval(() => { for (const t of ticking) t.paint(); }, 1000);
  return {
    refresh: () => load().catch(() => {}),
    dispose: () => { clearInterval(ticker); document.title = "Fieldsync · Dispatch"; },
  };
}
