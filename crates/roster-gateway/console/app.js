// The console's shell: sign-in, what the signed-in caller may do, the error
// banner and the hash routes (#/users, #/users/<id>, #/roles).

import { api, token, ApiError } from "./api.js";
import { usersPage } from "./users.js";
import { userPage } from "./user.js";
import { rolesPage } from "./roles.js";

// The permissions that decide which controls the console shows. The API
// checks them again on every call; hiding only spares a refusal.
const RIGHTS = {
  ban: "BAN_USER",
  edit: "EDIT_USER",
  assign: "ASSIGN_USER_ROLE",
  createRole: "CREATE_ROLE",
  editRole: "EDIT_ROLE",
  deleteRole: "DELETE_ROLE",
};

const $ = (id) => document.getElementById(id);
let session = null;
// Aborted when the page changes: the previous page's event streams end.
let leaving = new AbortController();

export function showError(error) {
  const box = $("error");
  box.replaceChildren();
  if (!error) {
    box.hidden = true;
    return;
  }
  const reason = error instanceof ApiError ? error.reason : "CONSOLE_ERROR";
  const code = document.createElement("code");
  code.textContent = reason;
  box.append(code, ": ", error.message);
  box.hidden = false;
}

// Runs an action, showing its failure; the page stays usable either way.
export async function attempt(action) {
  try {
    showError(null);
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

function claims(raw) {
  try {
    const part = raw.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

// Who the token names and what it may do; refuses a user without CONSOLE_ACCESS.
async function establish(raw) {
  const claim = claims(raw);
  if (!claim) throw new ApiError(401, { reason: "TOKEN_INVALID", message: "token: not a Roster token" });
  token.set(raw);
  if (claim.kind === "admin") {
    const rights = Object.fromEntries(Object.keys(RIGHTS).map((k) => [k, true]));
    return { label: `admin:${claim.sub}`, userId: null, rights };
  }
  const me = await api("GET", "/v1/users/me");
  const names = ["CONSOLE_ACCESS", ...Object.values(RIGHTS)];
  const { results } = await api("POST", "/v1/permissions:batchCheck", {
    body: { checks: names.map((permission) => ({ userId: me.id, permission })) },
  });
  if (!results[0].allowed) {
    throw new ApiError(403, {
      reason: "PERMISSION_DENIED",
      message: `user ${me.name} does not hold CONSOLE_ACCESS`,
    });
  }
  const rights = Object.fromEntries(Object.keys(RIGHTS).map((k, i) => [k, results[i + 1].allowed]));
  return { label: `${me.name} (#${me.id})`, userId: me.id, rights };
}

function signedOut() {
  session = null;
  token.clear();
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("sign-in").hidden = false;
}

async function signIn(raw) {
  try {
    session = await establish(raw.trim());
  } catch (error) {
    signedOut();
    showError(error);
    return;
  }
  showError(null);
  $("sign-in").hidden = true;
  $("sign-in").reset();
  $("nav").hidden = false;
  $("who").textContent = `signed in as ${session.label}`;
  if (!location.hash || location.hash === "#/") location.hash = "#/users";
  else route();
}

function route() {
  if (!session) return;
  leaving.abort();
  leaving = new AbortController();
  const view = $("view");
  const context = { session, signal: leaving.signal, attempt, showError };
  const [, page, id] = location.hash.split("/");
  view.replaceChildren();
  if (page === "users" && id) userPage(view, Number(id), context);
  else if (page === "roles") rolesPage(view, context);
  else usersPage(view, context);
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(new FormData(event.target).get("token"));
});
$("sign-out").addEventListener("click", () => {
  leaving.abort();
  signedOut();
  showError(null);
});
window.addEventListener("hashchange", route);

const saved = token.get();
if (saved) signIn(saved);
else signedOut();
