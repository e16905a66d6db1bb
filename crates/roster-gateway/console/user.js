// One user: profile, avatar, live presence, roles, moderation, files, recent
// audit entries and live events. Each section loads on its own, so one slow or
// refused call never holds the others back.

import { api, follow, h, when, instant, scopeText, token } from "./api.js";
import { moderationSections } from "./moderation.js";

export function userPage(view, id, context) {
  render(view, id, context);
}

function section(title, label) {
  const body = h("div");
  const card = h("section", { class: "card", "aria-label": label || title }, h("h2", {}, title), body);
  return { card, body };
}

async function render(view, id, context) {
  const { attempt, signal, session } = context;
  const user = await attempt(() => api("GET", `/v1/users/${id}`));
  if (!user || signal.aborted) return;
  const profile = section("Profile");
  const presence = h("span", { class: "badge", "aria-label": "Presence" }, user.presence.status);
  const state = h("span", { "aria-label": "State" });
  const showState = (u) =>
    state.replaceChildren(...[
      u.isGuest && h("span", { class: "badge" }, "guest"),
      u.isGlobalBanned ? h("span", { class: "badge bad" }, "banned") : h("span", { class: "badge ok" }, "not banned"),
      u.isDeleted && h("span", { class: "badge bad" }, "deleted"),
      h("span", { class: "badge" }, `${u.flagCount} flag(s)`)].filter(Boolean));
  showState(user);
  const avatar = h("img", { class: "avatar", alt: "avatar", hidden: true });
  profile.body.append(
    h("div", { class: "filters" }, avatar,
      h("div", {},
        h("h1", {}, user.displayName, " ", h("small", {}, `@${user.name} #${user.id}`)),
        h("div", {}, presence, state))),
    h("p", {}, user.description),
    h("p", {}, `type ${user.userType || user.type}, created ${when(user.createdAt)}, updated ${when(user.updatedAt)}`),
    h("pre", { "aria-label": "Properties" }, JSON.stringify(user.properties, null, 2)));
  if (session.rights.edit) profile.body.append(editForm(user, context));
  const grid = h("div", { class: "grid" });
  view.append(profile.card, grid);

  loadAvatar(avatar, user, context);
  followPresence(presence, id, context);
  grid.append(rolesSection(id, context));
  for (const card of moderationSections(id, user, context, showState)) grid.append(card);
  // The audit log, like the flags, is for holders of BAN_USER.
  const audit = session.rights.ban ? auditSection(id, context) : { reload: () => {} };
  const events = eventsSection(id, context, showState, audit.reload);
  grid.append(...[filesSection(id, context), session.rights.ban && audit, events].filter(Boolean));
}

// Pictures under /v1/files need the caller's token: fetched, shown as a blob.
async function loadAvatar(img, user, { signal }) {
  const url = user.displayPictureUrl;
  if (!url) return;
  const path = new URL(url, location.origin).pathname;
  if (!path.startsWith("/v1/files/")) {
    img.replaceWith(h("a", { href: url, rel: "noreferrer" }, "external picture"));
    return;
  }
  try {
    const response = await fetch(path, { headers: { authorization: `Bearer ${token.get()}` }, signal });
    if (response.ok) {
      img.src = URL.createObjectURL(await response.blob());
      img.hidden = false;
    }
  } catch {
    // No picture shown; the rest of the page does not depend on it.
  }
}

function followPresence(badge, id, { signal }) {
  const show = (p) => {
    badge.textContent = `${p.status}${p.online ? " · online" : " · offline"}`;
    badge.className = p.online ? "badge ok" : "badge";
  };
  follow(`/v1/presence?ids=${id}`, {
    signal,
    onEvent: (name, data) => {
      if (name === "snapshot") data.presences.filter((p) => p.userId === id).forEach(show);
      else if (data.userId === id) show(data);
    },
  }).catch(() => {});
}

function editForm(user, { attempt }) {
  let version = user.version;
  const name = h("input", { name: "displayName", value: user.displayName, required: true });
  const props = h("textarea", { name: "properties", rows: 3, cols: 40 }, JSON.stringify(user.properties));
  const done = h("span", { role: "status" });
  return h("form", {
    class: "inline", "aria-label": "Edit profile",
    onsubmit: async (event) => {
      event.preventDefault();
      done.textContent = "";
      await attempt(async () => {
        let properties;
        try {
          properties = JSON.parse(props.value || "{}");
        } catch (error) {
          throw Object.assign(new Error(`properties: not JSON (${error.message})`), { reason: "INVALID_FIELD" });
        }
        const updated = await api("PATCH", `/v1/users/${user.id}`, {
          body: { displayName: name.value, properties },
          ifMatch: `"${version}"`,
        });
        version = updated.version;
        done.textContent = `saved (version ${version})`;
      });
    },
  },
  h("label", {}, "Display name", name),
  h("label", {}, "Properties (JSON, merged; null removes a key)", props),
  h("button", { type: "submit" }, "Save"), done);
}

function rolesSection(id, { attempt, session, signal }) {
  const { card, body } = section("Roles");
  const rows = h("tbody");
  const table = h("table", { "aria-label": "Role grants" },
    h("thead", {}, h("tr", {}, ["Role", "Scope", "Expires", "Granted by", ""].map((t) => h("th", {}, t)))), rows);
  body.append(table);
  const load = () => attempt(async () => {
    const { grants } = await api("GET", `/v1/users/${id}/roles`, { query: { pageSize: 100 } });
    if (signal.aborted) return;
    rows.replaceChildren(...grants.map((g) => h("tr", {},
      h("td", {}, g.role), h("td", {}, scopeText(g.scope)), h("td", {}, g.expiresAt ? when(g.expiresAt) : "never"),
      h("td", {}, g.grantedBy),
      h("td", {}, session.rights.assign && h("button", {
        type: "button",
        onclick: () => attempt(async () => {
          await api("DELETE", `/v1/users/${id}/roles/${encodeURIComponent(g.role)}`, {
            query: { channelId: g.scope?.channelId, communityId: g.scope?.communityId },
          });
          await load();
        }),
      }, `Revoke ${g.role}`)))));
  });
  load();
  if (session.rights.assign) body.append(grantForm(id, load, attempt));
  return card;
}

function grantForm(id, reload, attempt) {
  const role = h("select", { name: "role", "aria-label": "Role" });
  attempt(async () => {
    const { roles } = await api("GET", "/v1/roles", { query: { pageSize: 100 } });
    role.replaceChildren(...roles.filter((r) => r.assignable).map((r) => h("option", { value: r.name }, r.name)));
  });
  const kind = h("select", { name: "scopeKind", "aria-label": "Scope" },
    h("option", { value: "network" }, "network"),
    h("option", { value: "channelId" }, "channel"),
    h("option", { value: "communityId" }, "community"));
  const where = h("input", { name: "scopeId", placeholder: "channel or community id", "aria-label": "Scope id" });
  const expires = h("input", { name: "expiresAt", type: "datetime-local", "aria-label": "Grant expires" });
  return h("form", {
    class: "inline", "aria-label": "Grant role",
    onsubmit: async (event) => {
      event.preventDefault();
      const scope = kind.value === "network" ? { network: {} } : { [kind.value]: where.value.trim() };
      await attempt(async () => {
        await api("POST", `/v1/users/${id}/roles`, {
          body: { role: role.value, scope, expiresAt: instant(expires.value) },
        });
        event.target.reset();
        await reload();
      });
    },
  }, role, kind, where, expires, h("button", { type: "submit" }, "Grant"));
}

function filesSection(id, { attempt, signal }) {
  const { card, body } = section("Files");
  attempt(async () => {
    const { files } = await api("GET", `/v1/users/${id}/files`, { query: { pageSize: 50 } });
    if (signal.aborted) return;
    body.append(files.length
      ? h("table", { "aria-label": "Files" },
          h("tr", {}, ["Name", "Type", "Size", "Purpose", "Created"].map((t) => h("th", {}, t))),
          files.map((f) => h("tr", {}, h("td", {}, f.name), h("td", {}, f.contentType), h("td", {}, f.size),
            h("td", {}, f.purpose), h("td", {}, when(f.createdAt)))))
      : h("p", {}, "no files"));
  });
  return card;
}

export function auditSection(id, { attempt, signal }) {
  const { card, body } = section("Audit entries");
  const load = () => attempt(async () => {
    const { entries } = await api("GET", "/v1/audit-entries", { query: { targetUserId: id, pageSize: 20 } });
    if (signal.aborted) return;
    body.replaceChildren(entries.length
      ? h("table", { "aria-label": "Audit entries" },
          h("tr", {}, ["When", "Action", "Actor", "Reason"].map((t) => h("th", {}, t))),
          entries.map((e) => h("tr", {}, h("td", {}, when(e.occurredAt)), h("td", {}, e.action),
            h("td", {}, e.actor), h("td", {}, e.reason))))
      : h("p", {}, "no audit entries"));
  });
  card.reload = load;
  load();
  return card;
}

// The user's and its moderation's changes while the page is open.
// A moderation change adds an audit entry: the list is read again then.
function eventsSection(id, { signal }, showState, audited) {
  const { card, body } = section("Events (live)");
  const list = h("ol", { "aria-label": "Recent events", reversed: true });
  body.append(list);
  const add = (text) => {
    list.prepend(h("li", {}, text));
    while (list.children.length > 50) list.lastChild.remove();
  };
  follow("/v1/events/users", {
    signal,
    onEvent: (name, data) => {
      if (data.user?.id !== id) return;
      showState(data.user);
      add(`${when(data.occurredAt)} ${data.kind}`);
    },
  }).catch(() => add("user events are not available to this caller"));
  follow("/v1/events/moderation", {
    signal,
    onEvent: (name, data) => {
      if (data.userId !== id) return;
      add(`${when(data.occurredAt)} ${data.kind} by ${data.actor}`);
      audited();
    },
  }).catch(() => add("moderation events are not available to this caller"));
  return card;
}
