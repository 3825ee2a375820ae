// How the tests launch Debian's Chromium with playwright-core: `chromium.launch(CHROMIUM)`.
// Headless as root, so without the sandbox; no downloads, no background traffic.
// $CHROMIUM names another executable.

export const CHROMIUM = {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
};
