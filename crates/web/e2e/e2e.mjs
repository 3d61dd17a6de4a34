// End-to-end test of the web interface in Debian's headless Chromium, driven by playwright-core.
// Expects a running Patron at $PATRON_URL (run.sh starts one on the CDNOW demo database) and
// writes screenshots to $ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const BASE = process.env.PATRON_URL ?? "http://127.0.0.1:8080";
const OUT = process.env.ARTIFACTS ?? "test-artifacts";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
fs.mkdirSync(OUT, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "patron-e2e-"));

const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1366, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(20000);
const shot = async (name) => {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
};
const step = (s) => console.log(`- ${s}`);
const serverErrors = [];
page.on("response", (r) => {
  if (r.status() >= 500) serverErrors.push(`${r.status()} ${r.url()}`);
});

try {
  step("sign in (a wrong password first)");
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/login\?next=/);
  await page.fill("input[name=username]", process.env.PATRON_USER ?? "e2e");
  await page.fill("input[name=password]", "not the password");
  await page.click("#login button[type=submit]");
  await page.locator(".error").waitFor();
  await page.fill("input[name=password]", process.env.PATRON_PASSWORD ?? "");
  await Promise.all([page.waitForURL(/\/customers$/), page.click("#login button[type=submit]")]);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "patron_session");
  assert.ok(session && session.httpOnly, "an HttpOnly session cookie");
  assert.equal(session.sameSite, "Lax");

  step("the list");
  const resp = await page.goto(`${BASE}/`);
  assert.equal(resp.status(), 200);
  assert.match(page.url(), /\/customers$/);
  await page.locator("table#customers tbody tr").first().waitFor();
  const rows = await page.locator("table#customers tbody tr").count();
  assert.equal(rows, 25, "a first page of 25 customers");
  await shot("01-customer-list");

  step("next page (keyset cursor)");
  await page.click("#next-page");
  await page.waitForURL(/after=/);
  assert.equal(await page.locator("table#customers tbody tr").count(), 25);

  step("filter: search and sort");
  await page.goto(`${BASE}/customers`);
  await page.fill('input[name="q"]', "Insurance Brokers");
  await page.selectOption('select[name="sort"]', "-name");
  await page.click('form.filters button[type="submit"]');
  await page.waitForURL(/q=Insurance\+Brokers/);
  const names = await page.locator("table#customers tbody tr td:nth-child(2)").allInnerTexts();
  assert.ok(names.length > 0 && names.length <= 25, `filtered rows: ${names.length}`);
  for (const n of names) assert.match(n, /Insurance Brokers/);
  assert.deepEqual([...names].sort().reverse(), names, "sorted Z-A");
  await shot("02-customer-list-filtered");

  step("open a card");
  const first = names[0];
  await page.click(`table#customers a:text-is("${first}")`);
  await page.waitForURL(/\/customers\/\d+$/);
  const cardUrl = page.url();
  assert.equal(await page.locator("h1").first().innerText().then((t) => t.includes(first)), true);
  await page.locator("#orders table").waitFor();
  assert.ok((await page.locator("#orders tbody tr").count()) > 0, "orders shown");
  await page.locator("#value").waitFor();
  await shot("03-customer-card");

  step("edit with a bad e-mail: the message shows next to the field, nothing is saved");
  await page.fill("#f-email", "not-an-email");
  await page.fill("#f-industry", "Music retail");
  await page.click('#profile button[type="submit"]');
  await page.locator("#err-email").waitFor();
  const msg = await page.locator("#err-email").innerText();
  assert.match(msg, /e-mail address/);
  const box = await page.locator("#err-email").boundingBox();
  const inputBox = await page.locator("#f-email").boundingBox();
  assert.ok(box.y > inputBox.y && box.y - inputBox.y < 80, "the message sits right under the field");
  assert.equal(await page.inputValue("#f-email"), "not-an-email", "the typed value is kept");
  await shot("04-card-validation-error");
  await page.goto(cardUrl);
  assert.notEqual(await page.inputValue("#f-industry"), "Music retail", "nothing was saved");

  step("edit with a good e-mail: saved, recorded in the history");
  await page.fill("#f-email", "buyer@example.com");
  await page.fill("#f-industry", "Music retail");
  await page.click('#profile button[type="submit"]');
  await page.locator("#saved").waitFor();
  assert.equal(await page.inputValue("#f-email"), "buyer@example.com");
  const history = await page.locator("#history").innerText();
  assert.match(history, /buyer@example\.com/);
  await shot("05-card-saved");

  step("the dashboard's plots");
  await page.click('nav.mainnav a[href="/dashboard"]');
  await page.waitForURL(/\/dashboard$/);
  for (const id of ["whale-plot", "abc-plot", "rfm-plot", "funnel-plot", "clv-plot", "grades-plot"]) {
    const svg = page.locator(`svg#${id}`);
    await svg.waitFor();
    const b = await svg.boundingBox();
    assert.ok(b && b.width > 300 && b.height > 150, `${id} is drawn (${JSON.stringify(b)})`);
  }
  const d = await page.locator("svg#whale-plot path.curve").getAttribute("d");
  assert.ok(d.split("L").length > 50, "the whale curve has many points");
  assert.equal(await page.locator("svg#rfm-plot rect.cell").count(), 25, "5x5 RFM grid");
  assert.equal(await page.locator("svg#abc-plot rect.bar").count(), 3, "A, B, C bars");
  assert.ok((await page.locator("#churn tbody tr").count()) > 0, "churn-risk list");
  await shot("06-dashboard");

  step("switch to Chinese");
  await page.click('form.langswitch button[value="zh"]');
  await page.waitForURL(/\/dashboard$/);
  assert.match(await page.locator("h1").first().innerText(), /客户价值看板/);
  await shot("07-dashboard-zh");
  await page.goto(cardUrl);
  assert.match(await page.locator("#profile").innerText(), /保存修改/);
  await page.fill("#f-email", "bad@");
  await page.click('#profile button[type="submit"]');
  await page.locator("#err-email").waitFor();
  assert.match(await page.locator("#err-email").innerText(), /电子邮箱/);
  await shot("08-card-zh-validation");
  await page.click('form.langswitch button[value="en"]');
  await page.waitForURL(/\/customers\/\d+$/);
  assert.match(await page.locator("#profile").innerText(), /Save changes/);

  assert.deepEqual(serverErrors, [], "no 5xx response");
  console.log("e2e: all steps passed");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(e);
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
