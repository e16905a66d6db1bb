// The console's only way to Roster: the gateway's public REST API, with the
// signed-in token. Failures become ApiError carrying the API's reason.

const KEY = "roster.console.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body?.reason || "UNKNOWN";
    this.fields = body?.fields || [];
  }
}

// sessionStorage: the token lives as long as this tab, never in a URL.
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

function headers(extra) {
  const out = { ...extra };
  const value = token.get();
  if (value) out.authorization = `Bearer ${value}`;
  return out;
}

export async function api(method, path, { body, query, ifMatch } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const extra = {};
  if (body !== undefined) extra["content-type"] = "application/json";
  if (ifMatch) extra["if-match"] = ifMatch;
  const response = await fetch(url, {
    method,
    headers: headers(extra),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

// Follows a server-sent event stream through fetch (EventSource cannot send
// the Authorization header). Calls onEvent(name, data) for every event until
// the signal aborts; onOpen once the server answered.
export async function follow(path, { signal, onEvent, onOpen }) {
  const response = await fetch(new URL(path, location.origin), {
    headers: headers({ accept: "text/event-stream" }),
    signal,
  });
  if (!response.ok) {
    const text = await response.text();
    throw new ApiError(response.status, text ? JSON.parse(text) : null);
  }
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

// Builds DOM without innerHTML: text is never parsed as markup.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function when(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z" : "—";
}

// A datetime-local input's value as RFC 3339 (absent when empty).
export function instant(local) {
  return local ? new Date(local).toISOString() : undefined;
}

export function scopeText(scope) {
  if (!scope || scope.network) return "network";
  if (scope.channelId) return `channel ${scope.channelId}`;
  if (scope.communityId) return `community ${scope.communityId}`;
  return "network";
}
