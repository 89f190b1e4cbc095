// Sparklines and the 24 h change, from hourly OHLC buckets.
import { svg } from "./dom.js";

const HOUR = 3600 * 1000;

/** Percent change of the last close against the close 24 h before it (null without both). */
export function change24h(points) {
  if (!points || points.length < 2) return null;
  const last = points[points.length - 1];
  const target = new Date(last.start).getTime() - 24 * HOUR;
  let base = null;
  for (const p of points) if (new Date(p.start).getTime() <= target) base = p;
  if (!base || Number(base.close) === 0) return null;
  return ((Number(last.close) - Number(base.close)) / Number(base.close)) * 100;
}

export function sparkline(points, label) {
  const width = 120, height = 32;
  if (!points || points.length < 2) {
    return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img", "aria-label": `${label}: not enough data` },
      svg("line", { x1: 0, x2: width, y1: height / 2, y2: height / 2, class: "spark-empty" }));
  }
  const t0 = new Date(points[0].start).getTime();
  const t1 = new Date(points[points.length - 1].start).getTime();
  const closes = points.map((p) => Number(p.close));
  const lo = Math.min(...closes), hi = Math.max(...closes);
  const x = (p) => ((new Date(p.start).getTime() - t0) / Math.max(1, t1 - t0)) * (width - 2) + 1;
  const y = (v) => hi === lo ? height / 2 : height - 2 - ((v - lo) / (hi - lo)) * (height - 4);
  const up = closes[closes.length - 1] >= closes[0];
  const line = points.map((p, i) => `${x(p).toFixed(1)},${y(closes[i]).toFixed(1)}`).join(" ");
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: `spark ${up ? "up" : "down"}`, role: "img",
      "aria-label": `${label}: ${up ? "up" : "down"} from ${closes[0]} to ${closes[closes.length - 1]}` },
    svg("polyline", { points: line, fill: "none" }));
}
