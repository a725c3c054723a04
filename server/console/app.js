// The console's entry point: sign-in state, the section router, the shared context views use
// (technician names, toasts) and the live channel that makes the open view refresh itself.

import * as api from "./api.js";
import { h, replace, debounce } from "./dom.js";
import { Live } from "./live.js";
import { renderLogin } from "./login.js";
import * as board from "./board.js";
import * as intake from "./intake.js";
import * as detail from "./detail.js";
import * as stock from "./stock.js";
import * as followups from "./followups.js";
import * as dashboard from "./dashboard.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const liveState = document.getElementById("live-state");
const LIVE_WORDS = { live: "Live", connecting: "Connecting…", offline: "Reconnecting…", off: "Offline" };

const routes = [
  [/^\/?(board)?$/, board, "board"],
  [/^\/new$/, intake, "new"],
  [/^\/wo\/([0-9a-fA-F-]{36})$/, detail, "board"],
  [/^\/stock$/, stock, "stock"],
  [/^\/follow-ups$/, followups, "follow-ups"],
  [/^\/dashboard$/, dashboard, "dashboard"],
];

let view = null;
let live = null;
let technicians = null;

const ctx = {
  get user() { return api.session()?.user; },
  /** Technicians by id, loaded once per sign-in. */
  async technicians(reload = false) {
    if (!technicians || reload) {
      const list = await api.get("/v1/technicians");
      technicians = new Map(list.map((t) => [t.id, t]));
    }
    return technicians;
  },
  /** A person's name, or `unknown` for someone the console has no name for. */
  techName(id, unknown) {
    if (!id) return "";
    const t = technicians?.get(id);
    if (t) return t.display_name || t.username;
    if (id === ctx.user?.id) return ctx.user.display_name;
    return unknown ?? `user ${String(id).slice(0, 8)}`;
  },
  toast(message, kind = "") {
    const el = h("div", { class: ["toast", kind] }, message);
    document.getElementById("toasts").append(el);
    setTimeout(() => el.remove(), kind === "bad" ? 7000 : 3500);
  },
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  /** The hash's query parameters (`#/board?status=new`). */
  params() {
    const i = location.hash.indexOf("?");
    return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
  },
};

function setLiveState(state) {
  liveState.dataset.state = state;
  liveState.textContent = LIVE_WORDS[state] || state;
}

const refreshView = debounce(() => {
  if (view && typeof view.refresh === "function") view.refresh();
}, 200);

async function route() {
  const session = api.session();
  if (view && typeof view.dispose === "function") view.dispose();
  view = null;
  if (!session) {
    showSignedOut();
    return;
  }
  const hash = location.hash.replace(/^#/, "");
  const path = hash.split("?")[0];
  const match = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (match && a.dataset.nav === match[2]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!match) {
    replace(main, h("div", { class: "panel empty" }, "There is no such page. ", h("a", { href: "#/board" }, "Go to the board")));
    return;
  }
  const [re, module] = match;
  const args = path.match(re).slice(1);
  replace(main, h("p", { class: "loading" }, "Loading…"));
  try {
    await ctx.technicians();
  } catch (e) {
    if (e.status === 403) {
      replace(main, h("div", { class: "panel" }, h("h1", {}, "This console is for the office"),
        h("p", {}, "Dispatchers and admins plan work here; technicians use the Fieldsync app on their device."),
        h("button", { type: "button", class: "btn", onclick: () => api.signOut() }, "Sign in as someone else")));
      return;
    }
    if (!api.session()) return;
  }
  try {
    view = (await module.render(main, ctx, ...args)) || null;
  } catch (e) {
    if (!api.session()) return;
    replace(main, h("div", { class: "panel" }, h("h1", {}, "Something went wrong"), h("p", { class: "form-error" }, e.message)));
  }
}

function showSignedOut() {
  topbar.hidden = true;
  if (live) { live.stop(); live = null; }
  technicians = null;
  renderLogin(main, ctx, () => {
    startSession();
    if (!location.hash || location.hash === "#/" || location.hash === "#") location.hash = "#/board";
    else route();
  });
}

function startSession() {
  const session = api.session();
  topbar.hidden = false;
  document.getElementById("who").textContent = `${session.user.display_name} · ${session.user.role}`;
  if (live) live.stop();
  live = new Live(session.token, { onChange: refreshView, onState: setLiveState });
  live.start();
}

document.getElementById("logout").addEventListener("click", () => api.signOut());
api.onSignedOut(() => route());
window.addEventListener("hashchange", route);

if (api.session()) startSession();
route();
