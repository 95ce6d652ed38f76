// Drives the specdiff studio in headless Debian chromium with playwright-core (no browser download).
//
//   node drive_demo.mjs render URL MIDI_FILE INSTRUMENT STEPS SCREENSHOT.png
//   node drive_demo.mjs reject URL NOT_MIDI_FILE
//   node drive_demo.mjs example URL EXAMPLE_NAME
//
// Prints one JSON object with what the page showed; the Python test makes the assertions.
// Exits 1 (with {"error": ...}) when an expected element never appears.
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.SPECDIFF_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.SPECDIFF_DEMO_TIMEOUT_MS || 60000);
const [mode, url, file, ...rest] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { mode };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  if (mode === 'example') {
    await page.getByText(file, { exact: true }).first().click();  // `file` names the example
  } else {
    await page.locator('#midi-upload input[type=file]').setInputFiles(file);
  }

  if (mode === 'example') {
    await page.locator('#status', { hasText: /Loaded|Error/ }).waitFor();
    result.status = (await page.locator('#status').innerText()).trim();
    result.menus = await page.locator('[id^=part-]:visible').count();
  } else if (mode === 'reject') {
    // Our error line, or gradio's own toast (it refuses files over the size limit itself).
    const toast = page.locator('.toast-body');
    await page.locator('#status', { hasText: 'Error' }).or(toast).first().waitFor();
    result.status = (await page.locator('#status').innerText()).trim();
    result.toasts = await toast.allInnerTexts();
    result.trackMenuVisible = await page.locator('#part-1').isVisible();
  } else if (mode === 'render') {
    const [instrument, steps, screenshot] = rest;
    await page.locator('#status', { hasText: 'Loaded' }).waitFor();
    result.tracks = (await page.locator('#tracks').innerText()).trim();
    result.trackLabel = (await page.locator('#part-1 [data-testid=block-info]').first().innerText()).trim();

    // Re-assign part 1: type into the dropdown's filter and pick the matching option.
    const menu = page.locator('#part-1 input').first();
    await menu.click();
    await menu.fill(instrument);
    await page.locator('#part-1 li[role=option]', { hasText: instrument }).first().click();
    result.assigned = await menu.inputValue();

    const stepBox = page.locator('#steps input[type=number]');
    await stepBox.fill(steps);
    await stepBox.press('Enter');

    await page.locator('#render').click();
    // Done, or failed: our error line, or gradio's toast for an unexpected server exception.
    const done = page.locator('#status', { hasText: /Rendered|Error/ });
    await done.or(page.locator('.toast-body')).first().waitFor();
    if (!(await done.isVisible())) {
      throw new Error(`server error: ${await page.locator('.toast-body').first().innerText()}`);
    }
    if ((await done.innerText()).includes('Error')) throw new Error(await done.innerText());
    const audio = page.locator('#result-audio audio');
    await audio.first().waitFor({ state: 'attached' });
    result.audioSrc = await audio.first().getAttribute('src');
    const img = page.locator('#figure img');
    await img.first().waitFor();
    result.imageSrc = await img.first().getAttribute('src');
    result.imageWidth = await img.first().evaluate((el) => el.complete ? el.naturalWidth : 0);
    result.downloads = await page.locator('#downloads a').count();
    result.status = (await page.locator('#status').innerText()).trim();
    result.tracksAfter = (await page.locator('#tracks').innerText()).trim();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  result.pageErrors = errors;
} catch (error) {
  result.error = String(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
