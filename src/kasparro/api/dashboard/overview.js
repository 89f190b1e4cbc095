// /dashboard: sources' health, the run timeline, anomalies and drift, backfill, the assets table.
import { getJson } from "./api.js";
import { changed, compactUsd, count, duration, h, pct, relative, replace, scroller, svg, time, usd } from "./dom.js";
import { sparkline, change24h } from "./spark.js";

const PAGE_SIZE = 20;
const SPARK_TTL_MS = 5 * 60 * 1000;
const LABELS = { ok: "ok", stale: "stale", warning: "warning", failing: "failing" };

/** ok, stale, warning or failing, from the source's newest run and the flags it raised. */
export function sourceState(entry, anomalies, drift) {
  if (entry.last_status === "failure") return "failing";
  if (entry.stale) return "stale";
  if (anomalies.length || drift.length) return "warning";
  return "ok";
}

function section(id, title, ...body) {
  return h("section", { id, "aria-labelledby": `${id}-title`, class: "card" },
    h("h2", { id: `${id}-title` }, title), ...body);
}

export function overviewView(main, report) {
  const health = h("dl", { class: "facts", id: "health-facts" });
  const sources = h("ul", { class: "sources", id: "source-list" }, h("li", { class: "muted" }, "Loading…"));
  const timeline = h("div", { id: "run-timeline" });
  const findings = h("div", { id: "findings" });
  const backfill = h("div", { id: "backfill-body" });
  const backfillSection = section("backfill", "Backfill", backfill);
  backfillSection.hidden = true;

  const search = h("input", { id: "asset-search", type: "search", autocomplete: "off",
    placeholder: "BTC or bitcoin", "aria-describedby": "asset-search-hint" });
  const rows = h("tbody", { id: "asset-rows" });
  const pager = h("nav", { class: "pager", "aria-label": "Assets pages" });
  const summary = h("p", { id: "asset-summary", class: "muted", "aria-live": "polite" });
  const state = { search: "", offset: 0, total: 0 };
  const sparks = new Map();

  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.search = search.value.trim();
      state.offset = 0;
      refreshAssets().then(report);
    }, 300);
  });

  replace(main,
    h("h1", {}, "Kasparro overview"),
    section("health", "Service", health),
    section("sources", "Sources", sources),
    section("runs", "Last 100 runs", timeline),
    section("findings-section", "Anomalies and schema drift", findings),
    backfillSection,
    h("section", { id: "assets", "aria-labelledby": "assets-title", class: "card wide" },
      h("h2", { id: "assets-title" }, "Assets"),
      h("div", { class: "search" },
        h("label", { for: "asset-search" }, "Search by ticker or name"), search,
        h("span", { id: "asset-search-hint", class: "muted" }, "Exact ticker, or part of a name")),
      summary,
      scroller(
        h("table", { class: "assets" },
          h("caption", { class: "visually-hidden" }, "Assets by market cap"),
          h("thead", {}, h("tr", {},
            ...["Asset", "Price", "24 h", "Market cap", "Divergence", "Flags", "7 days", "Sources"]
              .map((c) => h("th", { scope: "col" }, c)))),
          rows)),
      pager));

  async function refreshOverview(errors) {
    const [healthBody, stats, runs] = await Promise.all([
      getJson("/health").catch((e) => { errors.push(e); return null; }),
      getJson("/stats").catch((e) => { errors.push(e); return null; }),
      getJson("/runs", { limit: 100 }).catch((e) => { errors.push(e); return null; }),
    ]);
    const minute = Math.floor(Date.now() / 60000); // relative times ("3 min ago") move on
    if (healthBody && stats) {
      const { timestamp, ...steady } = healthBody;
      const { backfill: _, ...rest } = stats;
      if (changed(health, [steady, rest, minute])) renderHealth(health, healthBody, stats);
    }
    if (!stats) return;
    const details = await Promise.all(Object.values(stats.sources).map((s) =>
      getJson(`/runs/${s.last_run_id}`).catch((e) => { errors.push(e); return null; })));
    if (details.some((d) => d === null)) return;
    const byId = new Map(details.map((d) => [d.id, d]));
    if (changed(sources, [stats.sources, stats.anomalies, details, minute])) renderSources(sources, stats, byId);
    if (changed(findings, [stats.anomalies, details])) renderFindings(findings, stats, details);
    if (runs && changed(timeline, runs.data)) renderTimeline(timeline, runs.data);
    backfillSection.hidden = !stats.backfill;
    if (stats.backfill && changed(backfill, stats.backfill)) renderBackfill(backfill, stats.backfill);
  }

  async function refreshAssets() {
    const errors = [];
    try {
      const page = await getJson("/assets", { search: state.search, limit: PAGE_SIZE, offset: state.offset });
      const spark = await Promise.all(page.data.map((a) => sparkFor(a.asset_id).catch((e) => { errors.push(e); return null; })));
      state.total = page.pagination.total;
      if (changed(rows, [page.data, spark])) renderAssets(rows, page.data, spark);
      if (changed(pager, [page.pagination, state.search])) renderPager(page);
    } catch (e) {
      errors.push(e);
    }
    return errors;
  }

  async function sparkFor(assetId) {
    const cached = sparks.get(assetId);
    if (cached && Date.now() - cached.at < SPARK_TTL_MS) return cached.points;
    const start = new Date(Date.now() - 7 * 86400 * 1000).toISOString();
    const body = await getJson(`/assets/${encodeURIComponent(assetId)}/history`, { interval: "1h", start, limit: 200 });
    sparks.set(assetId, { at: Date.now(), points: body.data });
    return body.data;
  }

  function renderPager(page) {
    const { offset, returned, total } = page.pagination;
    replace(summary, total === 0
      ? (state.search ? `No asset matches “${state.search}”.` : "No assets yet.")
      : `Showing ${offset + 1}–${offset + returned} of ${count(total)} assets${state.search ? ` matching “${state.search}”` : ""}.`);
    const go = (to) => () => { state.offset = Math.max(0, to); refreshAssets().then(report); };
    replace(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: go(offset - PAGE_SIZE) }, "Previous page"),
      h("span", {}, `Page ${Math.floor(offset / PAGE_SIZE) + 1} of ${Math.max(1, Math.ceil(total / PAGE_SIZE))}`),
      h("button", { type: "button", disabled: offset + returned >= total, onclick: go(offset + PAGE_SIZE) }, "Next page"));
  }

  return {
    title: "Overview · Kasparro",
    async refresh() {
      const errors = [];
      await Promise.all([refreshOverview(errors), refreshAssets().then((e) => errors.push(...e))]);
      return errors;
    },
  };
}

function renderHealth(node, health, stats) {
  const fact = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
  replace(node,
    ...fact("Database", h("span", { class: `light ${health.database === "connected" ? "ok" : "failing"}` }), health.database),
    ...fact("Newest run", time(health.last_etl), health.last_etl_status ? ` (${health.last_etl_status})` : ""),
    ...fact("Next scheduled run", stats.next_scheduled_run ? [time(stats.next_scheduled_run), ` (${relative(stats.next_scheduled_run)})`] : "scheduler off"),
    ...fact("ETL running now", stats.etl_running ? "yes" : "no"),
    ...fact("Records (latest per coin and source)", count(stats.total_normalized)));
}

function renderSources(node, stats, runsById) {
  const names = Object.keys(stats.sources).sort();
  if (!names.length) { replace(node, h("li", { class: "muted" }, "No finished run yet.")); return; }
  replace(node, ...names.map((name) => {
    const entry = stats.sources[name];
    const run = runsById.get(entry.last_run_id);
    const anomalies = stats.anomalies.filter((a) => a.source === name);
    const drift = run?.drift_events ?? [];
    const status = sourceState(entry, anomalies, drift);
    const why = status === "stale" ? `no success since ${entry.last_success_at ? relative(entry.last_success_at) : "ever"}`
      : status === "warning" ? [anomalies.length && `${anomalies.length} anomal${anomalies.length === 1 ? "y" : "ies"}`,
        drift.length && `${drift.length} drift finding${drift.length === 1 ? "" : "s"}`].filter(Boolean).join(", ")
      : status === "failing" ? "last run failed" : "last run succeeded";
    return h("li", { class: `source ${status}`, "data-source": name, "data-status": status },
      h("div", { class: "source-head" },
        h("span", { class: `light ${status}`, "aria-hidden": "true" }),
        h("strong", { class: "status-label" }, LABELS[status]),
        h("span", { class: "source-name" }, name)),
      h("p", { class: "muted" }, why),
      h("dl", { class: "facts" },
        h("dt", {}, "Last run"), h("dd", {}, h("a", { href: `/runs/${entry.last_run_id}` }, `#${entry.last_run_id}`), " finished ", time(entry.last_finished_at)),
        h("dt", {}, "Processed"), h("dd", { class: "processed" }, count(run?.processed)),
        h("dt", {}, "Failed"), h("dd", { class: "failed" }, count(run?.failed)),
        h("dt", {}, "Last success"), h("dd", {}, time(entry.last_success_at))),
      entry.last_message ? h("p", { class: "message" }, entry.last_message) : null);
  }));
}

function renderFindings(node, stats, details) {
  const items = [
    ...stats.anomalies.map((a) => h("li", { "data-kind": "anomaly" },
      h("span", { class: "badge warn" }, a.flag), ` ${a.source} run #${a.run_id}: ${a.message}`)),
    ...details.flatMap((run) => run.drift_events.map((d) => h("li", { "data-kind": "drift" },
      h("span", { class: "badge warn" }, `drift: ${d.kind}`),
      ` ${run.source} field ${d.field}`, d.expected ? ` (expected ${d.expected}, got ${d.actual})` : ` (${d.actual})`,
      `, ${d.occurrences}×, `, time(d.detected_at)))),
  ];
  replace(node, items.length ? h("ul", { class: "findings" }, ...items) : h("p", { class: "muted" }, "None in the newest runs."));
}

function renderTimeline(node, runs) {
  if (!runs.length) { replace(node, h("p", { class: "muted" }, "No runs yet.")); return; }
  const ordered = [...runs].reverse(); // oldest left
  const width = 600, height = 120, gap = 1;
  const bar = Math.min(14, Math.max(2, width / ordered.length - gap));
  const maxDuration = Math.max(1, ...ordered.map((r) => r.duration_ms ?? 0));
  const maxProcessed = Math.max(1, ...ordered.map((r) => r.processed));
  const half = height / 2 - 6;
  const failures = ordered.filter((r) => r.status === "failure").length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "timeline", role: "img",
      "aria-label": `${ordered.length} runs, ${failures} failed; upper bars duration, lower bars records processed` },
    svg("line", { x1: 0, x2: width, y1: height / 2, y2: height / 2, class: "axis" }),
    ...ordered.map((r, i) => {
      const x = i * (bar + gap);
      const dh = Math.max(1, ((r.duration_ms ?? 0) / maxDuration) * half);
      const ph = Math.max(r.processed ? 1 : 0, (r.processed / maxProcessed) * half);
      const cls = r.status === "failure" ? "fail" : r.status === "running" ? "running" : "ok";
      return svg("g", { class: `run ${cls}` },
        svg("title", {}, `#${r.id} ${r.source} ${r.status}: ${duration(r.duration_ms)}, processed ${r.processed}, failed ${r.failed}`),
        svg("rect", { x, y: height / 2 - dh, width: bar, height: dh, class: "duration" }),
        svg("rect", { x, y: height / 2, width: bar, height: ph, class: "processed" }),
        r.status === "failure" ? svg("rect", { x, y: height - 4, width: bar, height: 4, class: "mark" }) : null);
    }));
  const legend = h("p", { class: "legend muted" },
    h("span", { class: "key ok" }), "success ", h("span", { class: "key fail" }), "failure (marked below) ",
    "· upper: duration (max ", duration(maxDuration), ") · lower: processed (max ", count(maxProcessed), ")");
  const table = h("details", {}, h("summary", {}, "The runs as a table"),
    scroller(h("table", {}, h("caption", { class: "visually-hidden" }, "The last 100 runs"),
      h("thead", {}, h("tr", {}, ...["Run", "Source", "Status", "Started", "Duration", "Processed", "Failed"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...runs.map((r) => h("tr", {},
        h("td", {}, `#${r.id}`), h("td", {}, r.source), h("td", {}, r.status), h("td", {}, time(r.started_at)),
        h("td", {}, duration(r.duration_ms)), h("td", {}, count(r.processed)), h("td", {}, count(r.failed))))))));
  replace(node, chart, legend, table);
}

function renderBackfill(node, backfill) {
  const rows = [];
  const walk = (value, path) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path} · ${k.replaceAll("_", " ")}` : k.replaceAll("_", " "));
    } else {
      rows.push(h("dt", {}, path), h("dd", {}, Array.isArray(value) ? value.join(", ") : value === null ? "—" : String(value)));
    }
  };
  walk(backfill, "");
  replace(node, h("dl", { class: "facts" }, ...rows));
}

function renderAssets(tbody, assets, sparks) {
  if (!assets.length) { replace(tbody); return; }
  replace(tbody, ...assets.map((a, i) => {
    const points = sparks[i] ?? [];
    const change = change24h(points);
    return h("tr", { "data-asset-id": a.asset_id },
      h("th", { scope: "row" }, h("a", { href: `/dashboard/assets/${encodeURIComponent(a.asset_id)}` },
        h("span", { class: "ticker" }, a.ticker), " ", h("span", { class: "name" }, a.name ?? a.asset_id))),
      h("td", { class: "num" }, usd(a.price_usd)),
      h("td", { class: `num ${change === null ? "" : change >= 0 ? "up" : "down"}` }, change === null ? "—" : pct(change)),
      h("td", { class: "num" }, compactUsd(a.market_cap_usd)),
      h("td", { class: "num" }, a.divergence_pct === null ? "—" : `${Number(a.divergence_pct).toFixed(2)}%`),
      h("td", {}, ...a.flags.map((f) => h("span", { class: `badge ${f}` }, f.replaceAll("_", " ")))),
      h("td", {}, sparkline(points, `${a.ticker}, last 7 days`)),
      h("td", { class: "num" }, String(a.sources.length)));
  }));
}
