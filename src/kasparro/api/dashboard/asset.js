// /dashboard/assets/{id}: candles with interval and source switches, volume and market cap,
// the coverage strip, the consensus and how each source's coin was mapped.
import { getCapabilities, getJson, intervalSeconds } from "./api.js";
import { changed, compactUsd, count, h, pct, replace, scroller, time, usd } from "./dom.js";
import { renderCoverage } from "./coverage.js";
import { CandlestickSeries, HistogramSeries, LineSeries, createChart } from "./vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const BUCKETS_SHOWN = 1000; // the window is this many intervals back from now
const RAW_PAGES = 2;        // volume/market cap: at most this many pages of 5000 observations
const SOURCE_COLOURS = ["#0b62a4", "#8a4baf", "#b35900", "#00796b", "#c2185b"];

const seconds = (iso) => Math.floor(new Date(iso).getTime() / 1000);

export function assetView(main, assetId, report) {
  const base = `/assets/${encodeURIComponent(assetId)}`;
  const heading = h("h1", {}, assetId);
  const headline = h("div", { class: "headline", id: "asset-headline" });
  const intervals = h("div", { class: "choices", id: "interval-choices" });
  const toggles = h("div", { class: "choices", id: "source-toggles" });
  const chartNode = h("div", { id: "chart", class: "chart", role: "img", "aria-label": "Candlestick chart" });
  const chartNote = h("p", { id: "chart-note", class: "muted", "aria-live": "polite" });
  const coverage = h("div", { id: "coverage" }, h("p", { class: "muted" }, "Loading…"));
  const consensus = h("div", { id: "consensus" });
  const quotes = h("div", { id: "quotes" });
  const mappings = h("div", { id: "mappings" });
  const state = { interval: null, sources: new Set(["combined"]), known: [] };
  let chart = null;
  let drawn = 0; // the newest chart request: an older answer arriving late is dropped
  const series = new Map();

  replace(main,
    h("p", {}, h("a", { href: "/dashboard" }, "← Overview")),
    heading, headline,
    h("section", { class: "card wide", "aria-labelledby": "chart-title" },
      h("h2", { id: "chart-title" }, "Price"),
      h("div", { class: "controls" },
        h("fieldset", {}, h("legend", {}, "Interval"), intervals),
        h("fieldset", {}, h("legend", {}, "Series"), toggles)),
      chartNode, chartNote,
      h("h3", { id: "coverage-title" }, "Coverage"), coverage),
    h("section", { class: "card", "aria-labelledby": "consensus-title" }, h("h2", { id: "consensus-title" }, "Consensus"), consensus),
    h("section", { class: "card", "aria-labelledby": "quotes-title" }, h("h2", { id: "quotes-title" }, "Latest quote per source"), quotes),
    h("section", { class: "card wide", "aria-labelledby": "mappings-title" }, h("h2", { id: "mappings-title" }, "Mappings"), mappings));

  function ensureChart() {
    if (chart) return;
    const money = { type: "custom", formatter: (p) => usd(p), minMove: 0.00000001 };
    const compact = { type: "custom", formatter: (p) => compactUsd(p) };
    chart = createChart(chartNode, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#1f2328", attributionLogo: false,
        panes: { separatorColor: "#d0d7de", enableResize: false } },
      grid: { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    series.set("combined", chart.addSeries(CandlestickSeries, {
      upColor: "#1a7f37", downColor: "#cf222e", borderVisible: false, wickUpColor: "#1a7f37", wickDownColor: "#cf222e",
      title: "combined", priceFormat: money }));
    series.set("volume", chart.addSeries(HistogramSeries, { color: "#8c959f", priceFormat: compact, title: "volume 24 h" }, 1));
    series.set("market_cap", chart.addSeries(LineSeries, { color: "#0b62a4", lineWidth: 2, priceFormat: compact, title: "market cap" }, 2));
    chart.panes().forEach((pane, i) => pane.setStretchFactor(i === 0 ? 4 : 1));
  }

  function renderIntervals(list) {
    if (intervals.childElementCount) return;
    replace(intervals, ...list.map((name) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "interval", value: name, checked: name === state.interval,
        onchange: () => { state.interval = name; refreshChart().then(report); } }), name)));
  }

  function renderToggles(sources) {
    const names = sources.map((s) => s.source).sort();
    if (names.join() === state.known.join() && toggles.childElementCount) return;
    state.known = names;
    const box = (key, text) => h("label", { class: "choice" },
      h("input", { type: "checkbox", value: key, checked: state.sources.has(key),
        onchange: (e) => { if (e.target.checked) state.sources.add(key); else state.sources.delete(key); refreshChart().then(report); } }), text);
    replace(toggles, box("combined", "Combined candles"), ...names.map((n) => box(n, n)));
  }

  async function refreshChart() {
    const mine = ++drawn;
    const errors = [];
    const step = intervalSeconds(state.interval);
    const start = new Date(Date.now() - BUCKETS_SHOWN * step * 1000).toISOString();
    const params = { interval: state.interval, start, limit: 5000 };
    ensureChart();
    const wanted = ["combined", ...state.known.filter((s) => state.sources.has(s))];
    const loaded = await Promise.all(wanted.map((key) =>
      getJson(`${base}/history`, key === "combined" ? params : { ...params, source: key })
        .catch((e) => { errors.push(e); return null; })));
    const raw = await rawObservations(start).catch((e) => { errors.push(e); return null; });
    if (mine !== drawn) return [];
    if (errors.length) return errors;
    const [combined, ...perSource] = loaded;
    const candles = combined.data.map((b) => ({ time: seconds(b.start), open: Number(b.open), high: Number(b.high), low: Number(b.low), close: Number(b.close) }));
    const main = series.get("combined");
    main.setData(state.sources.has("combined") ? candles : []);
    for (const [key, s] of series) {
      if (!["combined", "volume", "market_cap"].includes(key) && !wanted.includes(key)) { chart.removeSeries(s); series.delete(key); }
    }
    perSource.forEach((body, i) => {
      const key = wanted[i + 1];
      if (!series.has(key)) {
        series.set(key, chart.addSeries(LineSeries, { color: SOURCE_COLOURS[state.known.indexOf(key) % SOURCE_COLOURS.length],
          lineWidth: 2, title: key, priceFormat: { type: "custom", formatter: (p) => usd(p), minMove: 0.00000001 } }));
      }
      series.get(key).setData(body.data.map((b) => ({ time: seconds(b.start), value: Number(b.close) })));
    });
    const { volume, marketCap } = perBucket(raw.points, step);
    series.get("volume").setData(volume);
    series.get("market_cap").setData(marketCap);
    if (chartNode.dataset.interval !== state.interval) chart.timeScale().fitContent();
    Object.assign(chartNode.dataset, {
      interval: state.interval, start, points: String(candles.length),
      first: combined.data[0]?.start ?? "", last: combined.data.at(-1)?.start ?? "",
      lastClose: combined.data.at(-1)?.close ?? "", sourceSeries: wanted.slice(1).join(","),
    });
    chartNode.setAttribute("aria-label", `Candlestick chart, ${state.interval}: ${candles.length} candles` +
      (candles.length ? `, last close ${usd(candles.at(-1).close)}` : ""));
    replace(chartNote, candles.length
      ? `${count(candles.length)} ${state.interval} candles since `
      : `No ${state.interval} candles since `, time(start),
      combined.pagination.next_cursor ? " (more than 5000: the oldest shown)" : "",
      raw.truncated ? `; volume and market cap from the first ${count(raw.points.length)} observations` : "",
      ". Times in UTC.");
    return [];
  }

  async function rawObservations(start) {
    const points = [];
    let cursor = null;
    for (let page = 0; page < RAW_PAGES; page++) {
      const body = await getJson(`${base}/history`, { start, limit: 5000, cursor });
      points.push(...body.data);
      cursor = body.pagination.next_cursor;
      if (!cursor) break;
    }
    return { points, truncated: Boolean(cursor) };
  }

  async function refreshCoverage(errors) {
    const caps = await getCapabilities();
    if (!caps.coverage) {
      replace(coverage, h("p", { class: "muted" }, "Coverage unavailable: this server does not report coverage."));
      coverage.dataset.coverage = "unavailable";
      return;
    }
    try {
      const body = await getJson(`${base}/coverage`);
      if (changed(coverage, body.sources)) renderCoverage(coverage, body);
    } catch (e) {
      errors.push(e);
    }
  }

  return {
    title: `${assetId} · Kasparro`,
    async refresh() {
      const errors = [];
      let caps;
      try {
        caps = await getCapabilities();
      } catch (e) {
        return [e];
      }
      if (!state.interval) state.interval = caps.intervals.includes("1d") ? "1d" : caps.intervals[0];
      renderIntervals(caps.intervals);
      let detail;
      try {
        detail = (await getJson(base)).data;
      } catch (e) {
        if (e.status === 404) replace(headline, h("p", { class: "message" }, `No asset "${assetId}". `, h("a", { href: "/dashboard#assets" }, "Find one in the assets table.")));
        return [e];
      }
      document.title = `${detail.name ?? detail.asset_id} (${detail.ticker}) · Kasparro`;
      replace(heading, detail.name ?? detail.asset_id, " ", h("span", { class: "ticker" }, detail.ticker));
      if (changed(headline, detail)) renderHeadline(headline, detail);
      renderToggles(detail.sources);
      if (changed(consensus, detail.consensus)) renderConsensus(consensus, detail);
      if (changed(quotes, detail.sources)) renderQuotes(quotes, detail.sources);
      if (changed(mappings, detail.mappings)) renderMappings(mappings, detail.mappings);
      const [chartErrors] = await Promise.all([refreshChart(), refreshCoverage(errors)]);
      return [...errors, ...chartErrors];
    },
  };
}

/** Volume and market cap per chart bucket: the freshest observation in each. */
function perBucket(observations, step) {
  const volume = new Map(), marketCap = new Map();
  for (const o of observations) {
    const t = Math.floor(seconds(o.observed_at) / step) * step;
    if (o.volume_24h_usd !== null) volume.set(t, Number(o.volume_24h_usd));
    if (o.market_cap_usd !== null) marketCap.set(t, Number(o.market_cap_usd));
  }
  const sorted = (m) => [...m].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
  return { volume: sorted(volume), marketCap: sorted(marketCap) };
}

function renderHeadline(node, a) {
  replace(node,
    h("span", { class: "price" }, usd(a.price_usd)),
    h("span", {}, "market cap ", compactUsd(a.market_cap_usd)),
    h("span", {}, "divergence ", a.divergence_pct === null ? "—" : `${Number(a.divergence_pct).toFixed(2)}%`),
    h("span", {}, "last observed ", time(a.last_observed_at)),
    ...a.flags.map((f) => h("span", { class: `badge ${f}` }, f.replaceAll("_", " "))));
}

function renderConsensus(node, a) {
  const c = a.consensus;
  replace(node,
    h("p", {}, h("strong", {}, usd(c.price_usd)), !c.method ? " (no source usable)"
      : c.method === "single" ? " from a single source" : ` the ${c.method} of ${c.used.length} sources`),
    h("h3", {}, "Used"),
    c.used.length ? h("ul", { id: "consensus-used" }, ...c.used.map((s) => h("li", {}, s))) : h("p", { class: "muted" }, "none"),
    h("h3", {}, "Excluded"),
    c.excluded.length
      ? h("ul", { id: "consensus-excluded" }, ...c.excluded.map((e) => h("li", {}, `${e.source}: ${e.reason.replaceAll("_", " ")} (${usd(e.price_usd)})`)))
      : h("p", { class: "muted" }, "none"));
}

function renderQuotes(node, sources) {
  replace(node, scroller(h("table", {}, h("caption", { class: "visually-hidden" }, "Latest quote per source"),
    h("thead", {}, h("tr", {}, ...["Source", "Coin", "Price", "Observed", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...sources.map((s) => h("tr", {},
      h("th", { scope: "row" }, s.source), h("td", {}, s.source_coin_id), h("td", { class: "num" }, usd(s.price_usd)),
      h("td", {}, time(s.observed_at)), h("td", {}, s.stale ? h("span", { class: "badge stale" }, "stale") : "")))))));
}

function evidenceList(evidence) {
  if (!evidence) return "—";
  return h("ul", { class: "evidence" }, ...Object.entries(evidence).map(([k, v]) => h("li", {},
    `${k.replaceAll("_", " ")}: `, typeof v === "number" && k.endsWith("pct") ? pct(v).replace("+", "") : typeof v === "object" ? JSON.stringify(v) : String(v))));
}

function renderMappings(node, mappings) {
  replace(node, scroller(h("table", {}, h("caption", { class: "visually-hidden" }, "How each source's coin maps to this asset"),
    h("thead", {}, h("tr", {}, ...["Source", "Coin", "Ticker", "Name", "Method", "Confidence", "Evidence"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...mappings.map((m) => h("tr", { "data-source": m.source },
      h("th", { scope: "row" }, m.source), h("td", {}, m.source_coin_id), h("td", {}, m.ticker), h("td", {}, m.name ?? "—"),
      h("td", {}, m.method.replaceAll("_", " "), m.ambiguous ? [" ", h("span", { class: "badge ambiguous_mapping" }, "ambiguous")] : ""),
      h("td", { class: "num" }, m.confidence === null ? "—" : `${Math.round(m.confidence * 100)}%`),
      h("td", {}, evidenceList(m.evidence))))))));
}
