// The sign-in page.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { check, clearErrors, field, showApiError } from "./forms.js";

export function renderLogin(root, ctx, signedIn) {
  const username = h("input", { name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  const form = h("form", { class: "panel login", novalidate: true, "aria-labelledby": "login-title" },
    h("div", { class: "brandline" },
      h("img", { src: "/console/icon.svg", alt: "", width: 36, height: 36 }),
      h("div", {}, h("h1", { id: "login-title" }, "Fieldsync Dispatch"), h("div", { class: "muted small" }, "Sign in to plan and follow the day's work"))),
    h("div", { class: "form-error", role: "alert" }),
    field("Username", username),
    field("Password", password),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = check(form, [
      ["username", username.value.trim() ? null : "Enter your username."],
      ["password", password.value ? null : "Enter your password."],
    ]);
    if (!ok) return;
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      await api.login(username.value.trim(), password.value);
      clearErrors(form);
      signedIn();
    } catch (e) {
      // Wrong credentials name no field: say it above the form and go back to the password.
      showApiError(form, e);
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
  replace(root, h("div", { class: "login-wrap" }, form));
  username.focus();
}
