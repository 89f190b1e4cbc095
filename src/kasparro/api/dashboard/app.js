// The dashboard's shell: picks the view from the URL, polls it, shows failures in a banner.
import { h, replace, time, utc } from "./dom.js";
import { overviewView } from "./overview.js";
import { assetView } from "./asset.js";

const query = new URLSearchParams(location.search);
const REFRESH_S = Math.min(3600, Math.max(2, Number(query.get("refresh")) || 30));

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const status = document.getElementById("refresh-status");
const pause = document.getElementById("pause");
const refreshNow = document.getElementById("refresh-now");

const match = /^\/dashboard\/assets\/([^/]+)\/?$/.exec(location.pathname);
const report = (errors) => showErrors(errors);
const view = match ? assetView(main, decodeURIComponent(match[1]), report) : overviewView(main, report);

let paused = false;
let timer = null;
let lastGood = null;
let running = false;

function showStatus() {
  const every = `every ${REFRESH_S} s`;
  const last = lastGood ? [" · updated ", time(lastGood)] : [];
  replace(status, paused ? `Paused (refreshes ${every} when resumed)` : `Refreshes ${every}`, ...last);
}

function showErrors(errors) {
  if (!errors.length) {
    banner.hidden = true;
    replace(banner);
    document.body.dataset.state = "ok";
    return;
  }
  const since = lastGood ? ["Showing the data from ", utc(lastGood), "."] : ["No data loaded yet."];
  const retry = paused ? " Refreshing is paused." : ` Retrying every ${REFRESH_S} s.`;
  replace(banner,
    h("strong", {}, "Cannot load fresh data. "),
    `${errors[0].message}${errors.length > 1 ? ` (and ${errors.length - 1} more failed requests)` : ""}. `,
    ...since, retry);
  banner.hidden = false;
  document.body.dataset.state = "error";
}

async function refresh() {
  if (running) return;
  running = true;
  clearTimeout(timer);
  try {
    const errors = await view.refresh();
    if (!errors.length) lastGood = new Date();
    showErrors(errors);
  } catch (e) {
    showErrors([e]);
  } finally {
    running = false;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    showStatus();
    if (!paused) timer = setTimeout(refresh, REFRESH_S * 1000);
  }
}

pause.addEventListener("click", () => {
  paused = !paused;
  pause.setAttribute("aria-pressed", String(paused));
  pause.textContent = paused ? "Resume" : "Pause";
  clearTimeout(timer);
  if (!paused) refresh();
  showStatus();
});
refreshNow.addEventListener("click", () => refresh());

document.title = view.title;
showStatus();
refresh();
