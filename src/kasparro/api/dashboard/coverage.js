// The coverage strip: per source, covered ranges and gaps coloured by reason (reason on hover);
// a range of a month retention pruned (status rollups_only) is drawn apart: candles only.
import { h, replace, svg, time, utc } from "./dom.js";

export const GAP_REASONS = {
  not_fetched: "not fetched yet",
  upstream_empty: "upstream had no data",
  plan_limit: "beyond the API plan's history",
  failed: "fetch failed",
  not_observed: "not observed",
};

const ms = (v) => new Date(v).getTime();
const ROLLUPS_ONLY = "rollups_only";

function rangeTitle(r) {
  const what = r.status === ROLLUPS_ONLY
    ? `covered by ${r.interval} rollups only (raw observations pruned)` : "covered";
  return `${what} ${utc(r.start)} – ${utc(r.end)}: ${r.observations} observations (${r.interval})`;
}

/** Render `GET /assets/{id}/coverage` into `node`. */
export function renderCoverage(node, body) {
  const sources = body.sources ?? [];
  const spans = sources.flatMap((s) => [...(s.ranges ?? []), ...(s.gaps ?? [])]);
  if (!spans.length) {
    replace(node, h("p", { class: "muted" }, "No coverage recorded for this asset yet."));
    node.dataset.coverage = "empty";
    return;
  }
  const t0 = Math.min(...spans.map((x) => ms(x.start)));
  const t1 = Math.max(...spans.map((x) => ms(x.end)));
  const width = 1000;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * width;
  const strips = sources.map((s) => {
    const gapsText = (s.gaps ?? []).map((g) => `${GAP_REASONS[g.reason] ?? g.reason} (${g.reason}) from ${utc(g.start)} to ${utc(g.end)}` +
      (g.error ? `: ${g.error}` : ""));
    const rolled = (s.ranges ?? []).filter((r) => r.status === ROLLUPS_ONLY).length;
    const label = `${s.source}: ${(s.ranges ?? []).length} covered ranges` +
      (rolled ? ` (${rolled} by rollups only)` : "") + `, ${(s.gaps ?? []).length} gaps`;
    const bar = svg("svg", { viewBox: `0 0 ${width} 16`, preserveAspectRatio: "none", class: "strip", role: "img", "aria-label": label },
      svg("rect", { x: 0, y: 0, width, height: 16, class: "strip-bg" }),
      ...(s.ranges ?? []).map((r) => svg("rect", { x: x(ms(r.start)), y: 0, width: Math.max(1, x(ms(r.end)) - x(ms(r.start))), height: 16,
          class: r.status === ROLLUPS_ONLY ? "covered rollups_only" : "covered", ...(r.status ? { "data-status": r.status } : {}) },
        svg("title", {}, rangeTitle(r)))),
      ...(s.gaps ?? []).map((g, i) => svg("rect", { x: x(ms(g.start)), y: 0, width: Math.max(2, x(ms(g.end)) - x(ms(g.start))), height: 16,
          class: `gap ${g.reason}`, "data-reason": g.reason },
        svg("title", {}, gapsText[i]))));
    const gaps = s.gaps ?? [];
    return h("div", { class: "coverage-row", "data-source": s.source },
      h("span", { class: "coverage-source" }, s.source),
      bar,
      gaps.length ? gapSummary(gaps) : h("p", { class: "muted" }, "no gaps"));
  });
  replace(node,
    h("p", { class: "muted" }, time(t0), " – ", time(t1)),
    ...strips,
    h("p", { class: "legend muted" }, h("span", { class: "key covered" }), "covered ",
      h("span", { class: "key covered rollups_only" }), "candles only (raw pruned) ",
      ...Object.entries(GAP_REASONS).map(([k, v]) => [h("span", { class: `key gap ${k}` }), `${v} `])));
  node.dataset.coverage = "shown";
}

function span(msTotal) {
  const hours = msTotal / 3600000;
  return hours < 1 ? `${Math.round(msTotal / 60000)} min` : hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} d`;
}

/** One line per reason (count and total length), then every gap in a disclosure. */
function gapSummary(gaps) {
  const byReason = new Map();
  for (const g of gaps) {
    const entry = byReason.get(g.reason) ?? { n: 0, ms: 0 };
    entry.n += 1;
    entry.ms += ms(g.end) - ms(g.start);
    byReason.set(g.reason, entry);
  }
  return h("div", { class: "gaps" },
    h("ul", { class: "gap-reasons" }, ...[...byReason].map(([reason, { n, ms: total }]) => h("li", { "data-reason": reason },
      h("span", { class: `key gap ${reason}`, "aria-hidden": "true" }),
      `${GAP_REASONS[reason] ?? reason}: ${n} gap${n === 1 ? "" : "s"}, ${span(total)}`))),
    h("details", {}, h("summary", {}, `Every gap (${gaps.length})`),
      h("ul", { class: "gap-list", tabindex: "0", "aria-label": "Every gap" }, ...gaps.map((g) => h("li", { "data-reason": g.reason },
        `${GAP_REASONS[g.reason] ?? g.reason}: `, time(g.start), " – ", time(g.end), g.error ? ` (${g.error})` : "")))));
}
