// How values are shown to dispatchers: labels of states, priorities and tiers, times,
// durations and SLA countdowns.

export const STATUSES = ["new", "assigned", "accepted", "traveling", "on_site", "in_progress", "on_hold", "completed", "closed", "cancelled"];
export const PRIORITIES = ["P1", "P2", "P3", "P4"];
export const TIERS = ["vip", "standard", "basic"];
export const CHANNELS = ["phone", "web", "app", "email", "visit"];
export const CATEGORIES = ["hardware", "software", "installation", "consultation", "service_complaint"];
export const URGENCIES = ["emergency", "normal", "minor"];
export const IMPACTS = ["many_customers", "one_site", "one_unit"];

const LABELS = {
  new: "New", assigned: "Assigned", accepted: "Accepted", traveling: "Traveling", on_site: "On site",
  in_progress: "In progress", on_hold: "On hold", completed: "Completed", closed: "Closed", cancelled: "Cancelled",
  vip: "VIP", standard: "Standard", basic: "Basic",
  phone: "Phone", web: "Web", app: "App", email: "E-mail", visit: "Visit",
  hardware: "Hardware", software: "Software", installation: "Installation", consultation: "Consultation",
  service_complaint: "Service complaint",
  emergency: "Emergency", normal: "Normal", minor: "Minor",
  many_customers: "Many customers", one_site: "One site", one_unit: "One unit",
  waiting_for_parts: "Waiting for parts", customer_absent: "Customer absent", customer_request: "Customer request",
  running: "On track", ok: "On track", near_breach: "Near breach", breached: "Breached", paused: "Paused", met: "Met", missed: "Missed",
  technician: "Technician", dispatcher: "Dispatcher", admin: "Admin",
  receipt: "Receipt", transfer: "Transfer", adjustment: "Adjustment", usage: "Usage",
  below_safety: "Below safety", negative: "Negative",
};

/** A word of the API (`on_site`) as people read it (`On site`). */
export function label(word) {
  if (word === undefined || word === null) return "";
  return LABELS[word] ?? String(word).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** Milliseconds since the epoch from the API's numbers or RFC 3339 text. */
export function millis(value) {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "number") return value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const TIME_SECONDS = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
const SHORT = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

export function dateTime(value) {
  const t = millis(value);
  return t === null ? "—" : DATE_TIME.format(new Date(t));
}

export function preciseTime(value) {
  const t = millis(value);
  return t === null ? "—" : TIME_SECONDS.format(new Date(t));
}

export function shortTime(value) {
  const t = millis(value);
  return t === null ? "—" : SHORT.format(new Date(t));
}

/** `2d 4h`, `3h 12m`, `45m`, `30s` for a span in seconds (sign ignored). */
export function span(seconds) {
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d > 0) return `${d}d ${hr}h`;
  if (hr > 0) return `${hr}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Minutes as a short duration: `45 min`, `3.5 h`, `2.1 d`. */
export function minutes(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return "—";
  const trim = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  if (value < 90) return `${Math.round(value)} min`;
  if (value < 48 * 60) return `${trim(Math.round(value / 6) / 10)} h`;
  return `${trim(Math.round(value / 144) / 10)} d`;
}

export function percent(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return "—";
  return `${Number(value).toFixed(digits)}%`;
}

/** What an SLA countdown says for a state and the seconds left (negative once overdue). */
export function slaText(state, remaining) {
  switch (state) {
    case "breached": return `Breached ${span(remaining)} ago`;
    case "paused": return "Paused";
    case "met": return "Met";
    case "missed": return "Missed";
    case "near_breach": return `${span(remaining)} left`;
    default: return remaining < 0 ? `Breached ${span(remaining)} ago` : `${span(remaining)} left`;
  }
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}
