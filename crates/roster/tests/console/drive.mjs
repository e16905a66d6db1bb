// Drives the admin console in headless Chromium (Playwright): the steps an
// operator takes, each checked on the page and, where the page could lie,
// through the API. Waits only on page state (auto-waiting locators).
// Environment: CONSOLE_URL, ADMIN_TOKEN, CHROMIUM, SCREENSHOTS, PLAYWRIGHT.

import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT);
const base = new URL(process.env.CONSOLE_URL);
const admin = process.env.ADMIN_TOKEN;
const shots = process.env.SCREENSHOTS;
const timeout = 60_000;

async function call(method, path, { body, token = admin } = {}) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function login(name) {
  return call("POST", "/v1/sessions", { body: { name }, token: "" });
}

async function created(name, displayName) {
  const { status, json } = await call("POST", "/v1/users", { body: { name, displayName } });
  assert.equal(status, 201, JSON.stringify(json));
  return json;
}

// The seeds: a prefix that finds two users and not the third.
const zebra = await created("zebra", "Zebra Stripes");
const zelda = await created("zelda", "Zelda Links");
const yak = await created("yak", "Yak Shaver");
const plain = await login("plain");
assert.equal(plain.status, 200, JSON.stringify(plain.json));
assert.equal((await login("zelda")).status, 200, "zelda logs in before the ban");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(timeout);
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  const alert = page.getByRole("alert");

  // Sign in with the admin token.
  await page.goto(new URL("/console", base).href);
  await page.getByLabel("Token").fill(admin);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("signed in as admin:platform").waitFor();
  assert.ok(!page.url().includes(admin), "the token never enters the URL");

  // Search as you type: "ze" finds Zebra and Zelda, not Yak.
  const users = page.getByRole("table", { name: "Users" });
  await page.getByLabel("Search users").pressSequentially("Ze");
  await users.getByRole("link", { name: "zelda" }).waitFor();
  await users.getByRole("link", { name: "zebra" }).waitFor();
  await users.getByRole("link", { name: "yak" }).waitFor({ state: "detached" });
  await page.getByText("2 user(s)").waitFor();
  await page.screenshot({ path: `${shots}/users.png`, fullPage: true });

  // Grant a scoped role with an expiry.
  await users.getByRole("link", { name: "zebra" }).click();
  await page.getByRole("heading", { name: /Zebra Stripes/ }).waitFor();
  const grant = page.getByRole("form", { name: "Grant role" });
  await grant.getByLabel("Role").selectOption("channel-moderator");
  await grant.getByLabel("Scope", { exact: true }).selectOption("channelId");
  await grant.getByLabel("Scope id").fill("general");
  await grant.getByLabel("Grant expires").fill("2099-01-01T12:00");
  await grant.getByRole("button", { name: "Grant" }).click();
  const grants = page.getByRole("table", { name: "Role grants" });
  await grants.getByRole("row", { name: /channel-moderator channel general/ }).waitFor();
  const held = await call("GET", `/v1/users/${zebra.id}/roles`);
  assert.deepEqual(held.json.grants.map((g) => [g.role, g.scope.channelId, g.expiresAt?.slice(0, 4)]),
    [["channel-moderator", "general", "2099"]]);
  await page.screenshot({ path: `${shots}/user.png`, fullPage: true });

  // A refused action shows the API's reason and message.
  await grant.getByLabel("Scope", { exact: true }).selectOption("channelId");
  await grant.getByLabel("Scope id").fill("");
  await grant.getByRole("button", { name: "Grant" }).click();
  await alert.getByText("INVALID_FIELD").waitFor();

  // Ban Zelda; her login is refused from then on.
  await page.goto(new URL(`/console#/users/${zelda.id}`, base).href);
  await page.getByRole("heading", { name: /Zelda Links/ }).waitFor();
  const ban = page.getByRole("form", { name: "Ban user" });
  await ban.getByLabel("Ban reason").fill("spam wave");
  await ban.getByRole("button", { name: "Ban" }).click();
  await page.getByLabel("Ban state").getByText(/spam wave/).waitFor();
  await page.getByLabel("State").getByText("banned", { exact: true }).waitFor();
  const refused = await login("zelda");
  assert.equal(refused.status, 403, JSON.stringify(refused.json));
  assert.equal(refused.json.reason, "USER_BANNED");
  await page.getByRole("table", { name: "Audit entries" }).getByText("BAN_USER").waitFor();

  // Delete Yak: the dry run first, then the job followed to its end.
  await page.goto(new URL(`/console#/users/${yak.id}`, base).href);
  await page.getByRole("heading", { name: /Yak Shaver/ }).waitFor();
  await page.getByLabel("Erase all personal data").check();
  await page.getByLabel("Deletion reason").fill("asked to leave");
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByRole("table", { name: "Would erase" }).getByText("TOMBSTONE_USER").waitFor();
  assert.equal((await call("GET", `/v1/users/${yak.id}`)).json.isDeleted, false, "a dry run erases nothing");
  await page.getByRole("button", { name: "Delete user" }).click();
  await page.getByLabel("Deletion state").getByText(/COMPLETED/).waitFor();
  const receipt = page.getByRole("table", { name: "Deletion receipt" });
  await receipt.getByText("TOMBSTONE_USER").waitFor();
  assert.equal((await call("GET", `/v1/users/${yak.id}`)).json.isDeleted, true);
  await page.screenshot({ path: `${shots}/deletion.png`, fullPage: true });

  // Roles: the catalogue matrix, and a custom role created from the page.
  await page.getByRole("link", { name: "Roles" }).click();
  await page.getByLabel("global-admin CONSOLE_ACCESS").getByText("✓").waitFor();
  const create = page.getByRole("form", { name: "Create role" });
  await create.getByLabel("Role name").fill("greeter");
  await create.getByLabel("Role description").fill("Welcomes people");
  await create.getByLabel("Role permissions").selectOption(["MUTE_CHANNEL", "EDIT_CHANNEL"]);
  await create.getByRole("button", { name: "Create role" }).click();
  await page.getByRole("table", { name: "Custom role list" }).getByText("Welcomes people").waitFor();
  assert.deepEqual((await call("GET", "/v1/roles/greeter")).json.permissions.sort(), ["EDIT_CHANNEL", "MUTE_CHANNEL"]);
  await page.screenshot({ path: `${shots}/roles.png`, fullPage: true });

  // A user without CONSOLE_ACCESS is refused, and sees no console.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Token").fill(plain.json.accessToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await alert.getByText("PERMISSION_DENIED").waitFor();
  assert.equal(await page.locator("#nav").isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
  await page.screenshot({ path: `${shots}/refused.png`, fullPage: true });

  // The refusal after PERMISSION_DENIED is the only error the page logged:
  // the 403 of the failed check is expected, scripts raised nothing.
  const unexpected = errors.filter((e) => !/status of 4\d\d/.test(e));
  assert.deepEqual(unexpected, []);
} catch (error) {
  // What the page itself said, and how it looked, next to the failure.
  console.error("page errors:", errors);
  await browser.contexts()[0]?.pages()[0]?.screenshot({ path: `${shots}/failure.png`, fullPage: true });
  throw error;
} finally {
  await browser.close();
}
console.log("console: all steps passed");
