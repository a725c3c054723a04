// Form errors next to their fields: from the API's `field`, or from checks made before sending.

import { h } from "./dom.js";

/** The control for an API field name inside `form`, e.g. `customer.name`. */
function control(form, field) {
  if (!field) return null;
  const candidates = [field, field.replace(/\[\d+\]/g, "")];
  for (const name of candidates) {
    const el = form.querySelector(`[name="${CSS.escape(name)}"]`) || form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (el) return el;
  }
  return null;
}

function errorSlot(form, el) {
  const box = el.closest(".field") || el.parentElement;
  let slot = box.querySelector(":scope > .field-error");
  if (!slot) {
    slot = h("div", { class: "field-error", id: `err-${Math.random().toString(36).slice(2)}` });
    box.append(slot);
  }
  return slot;
}

function formSlot(form) {
  let slot = form.querySelector(":scope > .form-error");
  if (!slot) {
    slot = h("div", { class: "form-error", role: "alert" });
    form.prepend(slot);
  }
  return slot;
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  const top = form.querySelector(":scope > .form-error");
  if (top) top.textContent = "";
}

/** Shows `message` next to `field` (or above the form when no control has that name). */
export function showError(form, field, message, { focus = true } = {}) {
  const el = control(form, field);
  if (!el) {
    formSlot(form).textContent = message;
    return;
  }
  const slot = errorSlot(form, el);
  slot.textContent = message.replace(/^[a-z_.[\]0-9]+: /, "");
  el.setAttribute("aria-invalid", "true");
  el.setAttribute("aria-describedby", slot.id);
  if (focus) el.focus();
}

/** Shows an API error on the form; returns true. */
export function showApiError(form, error) {
  showError(form, error.field, error.message);
  return true;
}

/**
 * Runs the checks `[field, message | null]` and shows every failure; true when all pass.
 * The first failing control gets the focus.
 */
export function check(form, results) {
  clearErrors(form);
  let first = true;
  for (const [field, message] of results) {
    if (!message) continue;
    showError(form, field, message, { focus: first });
    first = false;
  }
  return first;
}

/** A labelled control with its error slot: `field("Name", input, "hint")`. */
export function field(labelText, control, hint, extraClass) {
  const id = control.id || `f-${(control.getAttribute("name") || Math.random().toString(36).slice(2)).replace(/[^a-z0-9]/gi, "-")}`;
  control.id = id;
  return h("div", { class: ["field", extraClass] },
    h("label", { for: id }, labelText),
    control,
    hint ? h("div", { class: "hint" }, hint) : null,
    h("div", { class: "field-error", id: `${id}-error` }));
}

/** A `<select>` of words with their labels. */
export function select(name, words, labelOf, { value, empty } = {}) {
  return h("select", { name },
    empty !== undefined ? h("option", { value: "" }, empty) : null,
    words.map((w) => h("option", { value: w, selected: w === value }, labelOf(w))));
}
