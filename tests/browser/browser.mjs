// browser.mjs — drives headless Debian Chromium (playwright-core) against a
// running `blend serve`: types a query, checks the rendered hits, the
// highlights and the per-leg explain, that the URL follows the search and
// that knobs are read back from a URL; saves a screenshot.
// usage: node browser.mjs BASE_URL SCREENSHOT.png QUERY
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shot, query] = process.argv.slice(2);
const fail = (m) => { console.log("FAIL " + m); process.exitCode = 1; };
const profile = mkdtempSync(join(tmpdir(), "blend-chromium-"));
// a fresh profile (--user-data-dir) per run: playwright passes it itself
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1100, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/", { waitUntil: "load" });
  await page.fill("#q", query);
  await page.press("#q", "Enter");
  await page.waitForSelector(".hit", { timeout: 10000 });
  const hits = await page.$$eval(".hit", (h) => h.length);
  if (hits < 1) fail("no hits rendered");
  const marks = await page.$$eval(".hit mark", (m) => m.map((x) => x.textContent.toLowerCase()));
  if (!marks.length) fail("no highlighted words");
  const words = query.toLowerCase().split(/\s+/);
  if (!marks.some((m) => words.some((w) => m.startsWith(w.slice(0, 4))))) fail("highlights do not match the query: " + marks.slice(0, 5));
  const url = new URL(page.url());
  if (url.searchParams.get("q") !== query) fail("URL not in step: " + page.url());
  // the explain of the first hit: one bm25 leg whose contribution equals the score
  await page.click(".hit details summary");
  const leg = await page.$$eval(".hit:first-child tr.leg td", (t) => t.map((x) => x.textContent));
  if (leg[0] !== "bm25") fail("explain leg is " + leg[0]);
  const score = await page.$eval(".hit:first-child .meta", (m) => m.textContent);
  if (!score.includes(leg[5])) fail("contribution " + leg[5] + " is not the score (" + score + ")");
  const bar = await page.$eval(".hit:first-child .bar", (b) => b.style.width);
  if (!/^100(\.0)?%$/.test(bar)) fail("the top hit's bar is " + bar);
  const terms = await page.$$eval(".hit:first-child table.terms tr", (r) => r.length);
  if (terms < 2) fail("no per-term explain rows");
  await page.screenshot({ path: shot, fullPage: false });
  // knobs come from the URL; a mode the server refuses shows its reason
  await page.goto(base + "/?q=" + encodeURIComponent(query) + "&mode=hybrid&alpha=0.3&fusion=rrf", { waitUntil: "load" });
  // (waitForFunction would eval a string, which the page's CSP rightly forbids)
  for (let i = 0; i < 100; i++) {
    const t = await page.$eval("#status", (x) => x.textContent);
    if (!t.startsWith("Searching") && !t.startsWith("Type")) break;
    await page.waitForTimeout(100);
  }
  const knobs = await page.evaluate(() => [document.getElementById("mode").value, document.getElementById("alpha").value,
                                           document.getElementById("fusion").value, document.getElementById("q").value]);
  if (knobs[0] !== "hybrid" || knobs[1] !== "0.3" || knobs[2] !== "rrf" || knobs[3] !== query) fail("knobs from URL: " + knobs);
  const status = await page.$eval("#status", (s) => s.textContent);
  if (!/hits .* hybrid$/.test(status)) fail("hybrid status: " + status);
  // hybrid explain: one row per leg, contributions adding up to the score
  await page.click(".hit details summary");
  const legs = await page.$$eval(".hit:first-child tr.leg", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  if (legs.length !== 2) fail("hybrid explain rows: " + legs.length);
  const weights = legs.map((l) => Number(l[4]));
  if (Math.abs(weights[0] - 0.3) > 1e-9 || Math.abs(weights[1] - 0.7) > 1e-9) fail("leg weights " + weights);
  const sum = legs.reduce((a, l) => a + Number(l[5]), 0);
  const top = await page.$eval(".hit:first-child .meta", (m) => Number(m.textContent.split("score ")[1]));
  if (Math.abs(sum - top) > 2e-4) fail(`contributions ${sum} != score ${top}`);
  await page.screenshot({ path: shot.replace(/\.png$/, "-hybrid.png"), fullPage: false });
  if (errors.length) fail("page errors: " + errors.join("; "));
  console.log(`browser: ${hits} hits, ${marks.length} highlights, explain ok, url ok, hybrid: ${status.slice(0, 60)}`);
} catch (e) {
  fail(String(e));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
