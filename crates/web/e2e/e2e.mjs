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

  step("dashboard: Recompute values (a POST carrying the session's CSRF token)");
  assert.ok(
    (await page.locator('form.recompute input[name="csrf"]').count()) === 1,
    "the recompute form carries the CSRF token",
  );
  await Promise.all([page.waitForURL(/\/dashboard\?recomputed=/, { timeout: 120000 }), page.click("#recompute")]);
  await page.locator("#recomputed").waitFor();
  assert.match(await page.locator("#recomputed").innerText(), /values recomputed/i);
  await page.locator("svg#whale-plot").waitFor();
  await shot("06b-dashboard-recomputed");

  step("receivables: the ageing chart");
  await page.click('nav.mainnav a[href="/work"]');
  await page.waitForURL(/\/work\/followup$/);
  await page.click('nav.worknav a[href="/work/receivables"]');
  await page.waitForURL(/\/work\/receivables$/);
  const ageing = page.locator("svg#ageing-plot");
  await ageing.waitFor();
  const ab = await ageing.boundingBox();
  assert.ok(ab && ab.width > 300 && ab.height > 150, `the ageing chart is drawn (${JSON.stringify(ab)})`);
  assert.equal(await page.locator("svg#ageing-plot rect.bar").count(), 5, "five ageing buckets");
  await shot("06c-receivables");

  step("score-model editor: a weight sum error next to the field, then a valid preview");
  await page.click('nav.mainnav a[href="/score-model"]');
  await page.waitForURL(/\/score-model$/);
  const w0 = await page.inputValue("#w0");
  await page.fill("#w0", String(Number(w0) + 7));
  assert.match(await page.locator("#weight-sum").innerText(), /107/, "the sum follows the typing");
  await page.click("#preview");
  await page.locator("#err-weights").waitFor();
  assert.match(await page.locator("#err-weights").innerText(), /100/);
  const errBox = await page.locator("#err-weights").boundingBox();
  const sumBox = await page.locator("#weight-sum").boundingBox();
  assert.ok(
    errBox.y >= sumBox.y && errBox.y - sumBox.y < 80 && Math.abs(errBox.x - sumBox.x) < 300,
    `the message sits at the sum (${JSON.stringify(errBox)} vs ${JSON.stringify(sumBox)})`,
  );
  assert.equal(await page.locator("#score-preview").count(), 0, "no preview for an invalid model");
  await shot("09-score-model-error");
  await page.fill("#w0", w0);
  await page.click("#preview");
  await page.locator("#score-preview").waitFor();
  assert.equal(await page.locator("#err-weights").count(), 0);
  const bars = page.locator("svg#preview-grades");
  await bars.waitFor();
  const bb = await bars.boundingBox();
  assert.ok(bb && bb.width > 200 && bb.height > 100, `grade distribution drawn (${JSON.stringify(bb)})`);
  const gradeRows = await page.locator("#preview-table tbody tr").count();
  assert.equal(gradeRows, 5, "grades A-E in the preview table");
  const calibration = await page.locator("#calibration").innerText();
  assert.match(calibration, /Spearman/i);
  assert.match(calibration, /\d\.\d{3}/, "a rank correlation figure");
  await shot("10-score-model-preview");

  step("import page: a CSV with one bad row, progress, the report, the rejects download");
  await page.click('nav.mainnav a[href="/import"]');
  await page.waitForURL(/\/import$/);
  const stamp = Date.now();
  const csv = [
    "number,name,email,region",
    `E2E-${stamp}-1,E2E Import One,one@example.com,North`,
    `E2E-${stamp}-2,E2E Import Two,not-an-email,South`,
    `E2E-${stamp}-3,E2E Import Three,three@example.com,East`,
    "",
  ].join("\n");
  await page.selectOption('select[name="entity"]', "customers");
  await page.setInputFiles('input[name="file"]', {
    name: "e2e-customers.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(csv),
  });
  await shot("11-import-form");
  await Promise.all([page.waitForURL(/\/import\/[^/]+$/), page.click("#upload")]);
  const jobUrl = page.url();
  await page.locator('#import-status[data-state="done"]').waitFor({ timeout: 60000 });
  const progress = await (await page.request.get(`${jobUrl}/progress`)).json();
  assert.equal(progress.state, "done", `progress endpoint: ${JSON.stringify(progress)}`);
  assert.equal(progress.rows, 3);
  assert.equal(Math.round(progress.percent), 100);
  await page.locator("#import-report").waitFor();
  const rowErrors = await page.locator("#row-errors").innerText();
  assert.match(rowErrors, /e2e-customers\.csv:3: column email: \S/, `FILE:LINE: column X: reason (${rowErrors})`);
  assert.equal(rowErrors.trim().split("\n").length, 1, "exactly one bad row");
  const kpis = await page.locator("#import-report").innerText();
  assert.match(kpis, /Stored\s*2\b/i, `two rows inserted (${kpis})`);
  await shot("12-import-report");
  const rejectsHref = await page.locator("#rejects").getAttribute("href");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#rejects")]);
  const rejectsFile = path.join(OUT, "e2e-rejects.csv");
  await download.saveAs(rejectsFile);
  const rejects = fs.readFileSync(rejectsFile, "utf8");
  assert.match(rejects, /not-an-email/, "the bad row is in the rejects file");
  assert.doesNotMatch(rejects, /one@example\.com/, "good rows are not");
  assert.match(rejectsHref, /\/rejects\.csv$/);
  await page.goto(`${BASE}/dashboard`);

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
