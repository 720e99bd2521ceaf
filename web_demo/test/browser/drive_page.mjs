// Drives the page in headless Chromium (playwright-core, Debian's chromium) and writes what it
// saw: for tests/test_web.py and benchmarks/web.py.
//
//   node web_demo/test/browser/drive_page.mjs --url URL --out DIR [--file F]... [--live]
//        [--cancel] [--screenshot PNG] [--chromium PATH] [--no-save]
//
// Each --file is picked in turn on one page load. For each: the page's phase ('done', 'error'
// or 'cancelled'), its error line, its statistics and the wall time from picking the file to
// the end; for a separated file, DIR/<n>/input.wav (the decoded samples, float32),
// vocals.wav and accompaniment.wav (the page's own downloads). --cancel clicks Cancel once the
// first file's separation has made progress, and records whether any progress followed.
// DIR/report.json also lists every request the page made and its console messages. --no-save
// writes the report alone (for timing).
import fs from 'node:fs';
import path from 'node:path';
import {parseArgs} from 'node:util';

import {chromium} from 'playwright-core';

const {values: args} = parseArgs({options: {
  url: {type: 'string'}, out: {type: 'string'}, file: {type: 'string', multiple: true, default: []},
  live: {type: 'boolean', default: false}, cancel: {type: 'boolean', default: false},
  screenshot: {type: 'string'}, chromium: {type: 'string', default: process.env.KERAS_SA_CHROMIUM ?? '/usr/bin/chromium'},
  timeout: {type: 'string', default: '600'}, 'no-save': {type: 'boolean', default: false},
}});
const timeout = Number(args.timeout) * 1000;
fs.mkdirSync(args.out, {recursive: true});

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const report = {requests: [], console: [], pageErrors: [], files: []};
try {
  const context = await browser.newContext({acceptDownloads: true});
  const page = await context.newPage();
  page.on('request', (r) => report.requests.push(r.url()));
  page.on('console', (m) => report.console.push({type: m.type(), text: m.text(), url: m.location().url}));
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  context.on('serviceworker', (w) => report.requests.push(`serviceworker:${w.url()}`));

  const loadStart = Date.now();
  await page.goto(args.url);
  await page.waitForFunction(() => ['idle', 'error'].includes(window.kerasSa?.phase), null, {timeout});
  report.loadMs = Date.now() - loadStart;
  await page.evaluate((live) => { document.getElementById('live').checked = live; }, args.live);

  for (const [index, file] of args.file.entries()) {
    const started = Date.now();
    await page.setInputFiles('#file', file);
    const result = {file, cancelled: false};
    if (args.cancel && index === 0) {
      await page.waitForFunction(() => document.getElementById('progress').value > 0, null, {timeout});
      await page.click('#cancel');
      const at = await page.evaluate(() => document.getElementById('progress').value);
      await page.waitForTimeout(1500);
      result.progressAtCancel = at;
      result.progressAfter = await page.evaluate(() => document.getElementById('progress').value);
    } else {
      await page.waitForFunction(() => ['done', 'error'].includes(window.kerasSa.phase), null, {timeout});
    }
    result.wallMs = Date.now() - started;
    Object.assign(result, await page.evaluate(() => ({
      phase: window.kerasSa.phase, error: window.kerasSa.error, stats: window.kerasSa.stats,
      status: document.getElementById('status').textContent,
      attribution: document.getElementById('attribution').hidden ? null : document.getElementById('attribution').textContent,
      responsive: true,
    })));
    if (result.phase === 'done' && !args['no-save']) {
      const dir = path.join(args.out, String(index));
      fs.mkdirSync(dir, {recursive: true});
      const base64 = await page.evaluate(async () => {
        const {encodeWav} = await import('./js/wav.js');
        const {channels, sampleRate} = window.kerasSa.input;
        const bytes = new Uint8Array(encodeWav(channels, sampleRate));
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(text);
      });
      fs.writeFileSync(path.join(dir, 'input.wav'), Buffer.from(base64, 'base64'));
      for (const stem of ['vocals', 'accompaniment']) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#${stem}-download`)]);
        result[`${stem}Name`] = download.suggestedFilename();
        await download.saveAs(path.join(dir, `${stem}.wav`));
      }
      if (args.screenshot) {
        await page.setViewportSize({width: 820, height: 900});
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({path: args.screenshot, fullPage: true});
      }
    }
    report.files.push(result);
  }
  report.memory = await page.evaluate(() => performance.memory
    ? {usedJSHeapSize: performance.memory.usedJSHeapSize, totalJSHeapSize: performance.memory.totalJSHeapSize} : null);
} finally {
  await browser.close();
  fs.writeFileSync(path.join(args.out, 'report.json'), JSON.stringify(report, null, 1));
}
