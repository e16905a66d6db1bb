// A user's moderation: flags (with reasons), the ban, and deletion: a dry run
// first, then the job followed live to its end and its receipt shown.

import { api, follow, h, when, instant } from "./api.js";

const REASONS = ["SPAM", "HARASSMENT", "HATE_SPEECH", "VIOLENCE", "SEXUAL_CONTENT", "SELF_HARM",
  "RESTRICTED_ITEMS", "MISINFORMATION", "IMPERSONATION", "OTHER"];
const OPTIONS = [
  ["deleteAll", "Erase all personal data"],
  ["markMessagesDeleted", "Delete channels and messages"],
  ["hardDeletePosts", "Delete posts"],
  ["hardDeleteComments", "Delete comments and reactions"],
];

function card(title) {
  const body = h("div");
  return { card: h("section", { class: "card", "aria-label": title }, h("h2", {}, title), body), body };
}

async function refreshUser(id, showState) {
  showState(await api("GET", `/v1/users/${id}`));
}

export function moderationSections(id, user, context, showState) {
  return [flagsSection(id, context, showState), banSection(id, context, showState),
    context.session.rights.edit && deletionSection(id, context, showState)].filter(Boolean);
}

function flagsSection(id, { attempt, session, signal }, showState) {
  const { card: section, body } = card("Flags");
  const list = h("div");
  const load = () => attempt(async () => {
    const page = await api("GET", `/v1/users/${id}/flags`, { query: { pageSize: 50 } });
    if (signal.aborted) return;
    list.replaceChildren(page.flags.length
      ? h("table", { "aria-label": "Flag list" },
          h("tr", {}, ["Flagger", "Reason", "Note", "When"].map((t) => h("th", {}, t))),
          page.flags.map((f) => h("tr", {}, h("td", {}, f.flagger), h("td", {}, f.reason), h("td", {}, f.note),
            h("td", {}, when(f.createdAt)))))
      : h("p", {}, `no flags (${page.flagCount})`));
  });
  // Reading flags takes BAN_USER, as clearing them does; anyone may flag.
  if (session.rights.ban) load();
  else list.replaceChildren(h("p", {}, "reading flags takes BAN_USER"));
  const reason = h("select", { name: "reason", "aria-label": "Flag reason" }, REASONS.map((r) => h("option", { value: r }, r)));
  const note = h("input", { name: "note", placeholder: "note", "aria-label": "Flag note" });
  body.append(list, h("form", {
    class: "inline", "aria-label": "Flag user",
    onsubmit: async (event) => {
      event.preventDefault();
      await attempt(async () => {
        await api("PUT", `/v1/users/${id}/flags/me`, { body: { reason: reason.value, note: note.value } });
        event.target.reset();
        if (session.rights.ban) await load();
        await refreshUser(id, showState);
      });
    },
  }, reason, note, h("button", { type: "submit" }, "Flag")));
  if (session.rights.ban) {
    body.append(h("button", {
      type: "button",
      onclick: () => attempt(async () => {
        await api("DELETE", `/v1/users/${id}/flags`, { query: { reason: "cleared from the console" } });
        await load();
        await refreshUser(id, showState);
      }),
    }, "Clear flags"));
  }
  return section;
}

function banSection(id, { attempt, session, signal }, showState) {
  const { card: section, body } = card("Ban");
  const state = h("div", { "aria-label": "Ban state" });
  const load = () => attempt(async () => {
    let ban = null;
    try {
      ban = await api("GET", `/v1/users/${id}/ban`);
    } catch (error) {
      if (error.reason !== "BAN_NOT_FOUND") throw error;
    }
    if (signal.aborted) return;
    state.replaceChildren(!ban
      ? h("p", {}, "never banned")
      : h("p", {}, `${ban.state}: “${ban.reason}” by ${ban.bannedBy} at ${when(ban.bannedAt)}, `,
          ban.expiresAt ? `until ${when(ban.expiresAt)}` : "permanent",
          ban.liftedAt && `; lifted by ${ban.liftedBy} at ${when(ban.liftedAt)} (${ban.liftReason})`));
  });
  load();
  body.append(state);
  if (!session.rights.ban) return section;
  const reason = h("input", { name: "reason", placeholder: "reason", "aria-label": "Ban reason" });
  const expires = h("input", { name: "expiresAt", type: "datetime-local", "aria-label": "Ban expires" });
  body.append(
    h("form", {
      class: "inline", "aria-label": "Ban user",
      onsubmit: async (event) => {
        event.preventDefault();
        await attempt(async () => {
          await api("PUT", `/v1/users/${id}/ban`, { body: { reason: reason.value, expiresAt: instant(expires.value) } });
          event.target.reset();
          await load();
          await refreshUser(id, showState);
        });
      },
    }, reason, expires, h("button", { type: "submit" }, "Ban")),
    h("button", {
      type: "button",
      onclick: () => attempt(async () => {
        await api("DELETE", `/v1/users/${id}/ban`, { query: { reason: "lifted from the console" } });
        await load();
        await refreshUser(id, showState);
      }),
    }, "Unban"));
  return section;
}

function deletionSection(id, { attempt, signal }, showState) {
  const { card: section, body } = card("Delete");
  const boxes = OPTIONS.map(([name, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name }), label));
  const reason = h("input", { name: "reason", placeholder: "reason", "aria-label": "Deletion reason" });
  const preview = h("div", { "aria-label": "Deletion preview" });
  const progress = h("div", { "aria-label": "Deletion job" });
  const confirm = h("button", { type: "button", disabled: true }, "Delete user");
  const query = (dryRun) => {
    const q = { dryRun, reason: reason.value };
    for (const label of boxes) {
      const box = label.querySelector("input");
      if (box.checked) q[box.name] = true;
    }
    return q;
  };
  const dry = h("button", {
    type: "button",
    onclick: () => attempt(async () => {
      const { preview: p } = await api("DELETE", `/v1/users/${id}`, { query: query(true) });
      preview.replaceChildren(h("h3", {}, "Dry run: would erase"),
        h("table", { "aria-label": "Would erase" },
          h("tr", {}, ["Step", "Service", "Would erase"].map((t) => h("th", {}, t))),
          p.entries.map((e) => h("tr", {}, h("td", {}, e.step), h("td", {}, e.service),
            h("td", {}, e.known ? Object.entries(e.wouldErase).map(([k, n]) => `${k}: ${n}`).join(", ") : "unknown")))));
      confirm.disabled = false;
    }),
  }, "Dry run");
  confirm.addEventListener("click", () => attempt(async () => {
    confirm.disabled = true;
    const { job } = await api("DELETE", `/v1/users/${id}`, { query: query(false) });
    await followJob(job, progress, signal);
    await refreshUser(id, showState);
  }));
  body.append(h("div", { class: "filters" }, boxes), reason, " ", dry, " ", confirm, preview, progress);
  return section;
}

function showJob(job, into) {
  into.replaceChildren(
    h("p", { role: "status", "aria-label": "Deletion state" }, `job ${job.id}: ${job.state}`),
    h("table", { "aria-label": "Deletion receipt" },
      h("tr", {}, ["#", "Step", "State", "Attempts", "Erased", "Completed", "Last error"].map((t) => h("th", {}, t))),
      job.steps.map((s) => h("tr", {}, h("td", {}, s.position), h("td", {}, s.kind), h("td", {}, s.state),
        h("td", {}, s.attempts), h("td", {}, Object.entries(s.erased || {}).map(([k, n]) => `${k}: ${n}`).join(", ")),
        h("td", {}, when(s.completedAt)), h("td", {}, s.lastError || "")))));
}

// Re-reads the job whenever the moderation stream reports on it, once the
// stream is open (so no change falls between the read and the subscription),
// until it is COMPLETED.
function followJob(job, into, signal) {
  showJob(job, into);
  if (job.state === "COMPLETED") return Promise.resolve();
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort());
  return new Promise((resolve, reject) => {
    const read = async () => {
      const current = await api("GET", `/v1/deletion-jobs/${job.id}`);
      showJob(current, into);
      if (current.state === "COMPLETED") {
        stop.abort();
        resolve();
      }
    };
    follow("/v1/events/moderation", {
      signal: stop.signal,
      onOpen: () => read().catch(reject),
      onEvent: (name, data) => {
        if (data.deletionJobId === job.id || data.userId === job.userId) read().catch(reject);
      },
    }).catch((error) => (stop.signal.aborted ? resolve() : reject(error)));
  });
}
