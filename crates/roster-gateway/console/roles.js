// Roles: the permission catalogue with the built-in roles as a matrix, and
// custom roles: create, edit (If-Match on the role's version), delete.

import { api, h } from "./api.js";

export function rolesPage(view, { attempt, session, signal }) {
  const matrix = h("div");
  const custom = h("div");
  view.append(h("h1", {}, "Roles"),
    h("section", { class: "card", "aria-label": "Custom roles" }, h("h2", {}, "Custom roles"), custom),
    h("section", { class: "card", "aria-label": "Permission catalogue" }, h("h2", {}, "Permissions and built-in roles"), matrix));
  let catalogue = [];

  async function load() {
    const [{ permissions }, roles] = await Promise.all([api("GET", "/v1/permissions"), allRoles()]);
    if (signal.aborted) return;
    catalogue = permissions;
    const builtIn = roles.filter((r) => r.builtIn).map((r) => r.name);
    matrix.replaceChildren(h("table", { "aria-label": "Role matrix" },
      h("thead", {}, h("tr", {}, h("th", {}, "Group"), h("th", {}, "Permission"), h("th", {}, "Description"),
        builtIn.map((name) => h("th", {}, name)))),
      h("tbody", {}, permissions.map((p) => h("tr", {},
        h("td", {}, p.group), h("td", {}, p.name), h("td", {}, p.description),
        builtIn.map((name) => h("td", { "aria-label": `${name} ${p.name}` }, p.builtInRoles.includes(name) ? "✓" : "")))))));
    const mine = roles.filter((r) => !r.builtIn);
    custom.replaceChildren(
      mine.length
        ? h("table", { "aria-label": "Custom role list" },
            h("tr", {}, ["Name", "Description", "Permissions", ""].map((t) => h("th", {}, t))),
            mine.map((role) => h("tr", {},
              h("td", {}, role.name), h("td", {}, role.description), h("td", {}, role.permissions.join(", ")),
              h("td", {},
                session.rights.editRole && h("button", { type: "button", onclick: () => edit(role) }, `Edit ${role.name}`),
                session.rights.deleteRole && h("button", {
                  type: "button",
                  onclick: () => attempt(async () => {
                    await api("DELETE", `/v1/roles/${encodeURIComponent(role.name)}`);
                    await load();
                  }),
                }, `Delete ${role.name}`)))))
        : h("p", {}, "no custom roles"),
      session.rights.createRole && roleForm(null));
  }

  async function allRoles() {
    const roles = [];
    let pageToken;
    do {
      const page = await api("GET", "/v1/roles", { query: { pageSize: 100, pageToken } });
      roles.push(...page.roles);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return roles;
  }

  function edit(role) {
    const form = roleForm(role);
    custom.append(form);
    form.querySelector("input, textarea")?.focus();
  }

  // One form for both: no role creates, a role edits that role.
  function roleForm(role) {
    const name = h("input", { name: "name", required: true, "aria-label": "Role name", value: role?.name, disabled: Boolean(role) });
    const description = h("input", { name: "description", "aria-label": "Role description", value: role?.description });
    const picks = h("select", { name: "permissions", multiple: true, size: 8, "aria-label": "Role permissions" },
      catalogue.map((p) => h("option", { value: p.name, selected: role?.permissions.includes(p.name) }, p.name)));
    return h("form", {
      class: "inline", "aria-label": role ? `Edit role ${role.name}` : "Create role",
      onsubmit: async (event) => {
        event.preventDefault();
        const permissions = [...picks.selectedOptions].map((o) => o.value);
        await attempt(async () => {
          if (role) {
            await api("PATCH", `/v1/roles/${encodeURIComponent(role.name)}`, {
              body: { description: description.value, permissions },
              ifMatch: `"${role.version}"`,
            });
          } else {
            await api("POST", "/v1/roles", { body: { name: name.value, description: description.value, permissions } });
          }
          await load();
        });
      },
    }, h("label", {}, "Name", name), h("label", {}, "Description", description),
    h("label", {}, "Permissions", picks), h("button", { type: "submit" }, role ? "Save role" : "Create role"));
  }

  attempt(load);
}
