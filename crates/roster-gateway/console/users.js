// Users: a prefix search that runs as you type (QueryUsers, display names in
// aA–zZ order), filters, and pages of 20 (the next page appended on demand).

import { api, h } from "./api.js";

// Each filter is "any", "only" or "none" (the API's true / false / absent).
const FILTERS = [
  ["isGuest", "Guests"],
  ["isGlobalBanned", "Banned"],
  ["isFlagged", "Flagged"],
  ["isDeleted", "Deleted"],
];

export function usersPage(view, { attempt, signal }) {
  const search = h("input", { type: "search", name: "keyword", placeholder: "display name prefix", "aria-label": "Search users" });
  const selects = FILTERS.map(([name, label]) =>
    h("label", {}, label,
      h("select", { name, onchange: () => run() },
        h("option", { value: "" }, "any"),
        h("option", { value: "true" }, "only"),
        h("option", { value: "false" }, "none"))));
  const sort = h("select", { name: "sort", "aria-label": "Order", onchange: () => run() },
    h("option", { value: "DISPLAY_NAME" }, "by name (aA–zZ)"),
    h("option", { value: "FIRST_CREATED" }, "oldest first"),
    h("option", { value: "LAST_CREATED" }, "newest first"));
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const status = h("p", { role: "status" });
  view.append(
    h("h1", {}, "Users"),
    h("div", { class: "filters" }, search, sort, selects),
    status,
    h("table", { "aria-label": "Users" },
      h("thead", {}, h("tr", {}, ["Id", "Name", "Display name", "State", "Roles"].map((t) => h("th", {}, t)))),
      rows),
    more,
  );

  // Every change starts a new query; an answer to an older one is dropped,
  // so fast typing never shows stale results and never waits.
  let generation = 0;
  let next = null;

  function query(pageToken) {
    const q = { keyword: search.value.trim(), sort: sort.value, pageSize: 20, pageToken };
    for (const label of selects) {
      const select = label.querySelector("select");
      q[select.name] = select.value;
    }
    return api("GET", "/v1/users", { query: q });
  }

  function show(users, append) {
    if (!append) rows.replaceChildren();
    for (const user of users) {
      rows.append(h("tr", { dataset: { userId: user.id } },
        h("td", {}, user.id),
        h("td", {}, h("a", { href: `#/users/${user.id}` }, user.name)),
        h("td", {}, user.displayName),
        h("td", {},
          user.isGuest && h("span", { class: "badge" }, "guest"),
          user.isGlobalBanned && h("span", { class: "badge bad" }, "banned"),
          user.flagCount > 0 && h("span", { class: "badge bad" }, `${user.flagCount} flags`),
          user.isDeleted && h("span", { class: "badge bad" }, "deleted")),
        h("td", {}, user.roles.join(", "))));
    }
  }

  async function run(append = false) {
    const mine = ++generation;
    await attempt(async () => {
      const page = await query(append ? next : undefined);
      if (mine !== generation || signal.aborted) return;
      show(page.users, append);
      next = page.nextPageToken || null;
      more.hidden = !next;
      status.textContent = `${rows.children.length} user(s)${next ? ", more below" : ""}`;
    });
  }

  search.addEventListener("input", () => run());
  more.addEventListener("click", () => run(true));
  search.focus();
  run();
}
