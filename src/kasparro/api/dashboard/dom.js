// DOM and formatting helpers. Every value from the API goes in as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table that scrolls sideways on a narrow screen, reachable by keyboard to scroll it. */
export function scroller(table) {
  const caption = table.querySelector("caption")?.textContent;
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption || "Table" }, table);
}

/** Run `render` only when `key` differs from the last one rendered into `node`, so a refresh
 * that brings nothing new leaves the page (and the keyboard focus in it) untouched. */
export function changed(node, key) {
  const text = JSON.stringify(key);
  if (node.dataset.rendered === text) return false;
  node.dataset.rendered = text;
  return true;
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

const pad = (n) => String(n).padStart(2, "0");

/** "2026-12-02 03:20:05 UTC", from an ISO string or Date. */
export function utc(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** A <time> in UTC, with the reader's local time on hover. */
export function time(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "never");
  const d = new Date(value);
  return h("time", { datetime: d.toISOString(), title: `Local time: ${d.toLocaleString()}` }, utc(d));
}

export function relative(value, now = Date.now()) {
  if (!value) return "";
  const s = Math.round((now - new Date(value).getTime()) / 1000);
  const abs = Math.abs(s);
  const [n, unit] = abs < 90 ? [abs, "s"] : abs < 5400 ? [Math.round(abs / 60), "min"]
    : abs < 129600 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

export function usd(value, digits) {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  const d = digits ?? (Math.abs(n) >= 1 ? 2 : Math.abs(n) >= 0.01 ? 4 : 8);
  return "$" + n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function compactUsd(value) {
  if (value === null || value === undefined) return "—";
  return "$" + Number(value).toLocaleString("en-US", { notation: "compact", maximumFractionDigits: 2 });
}

export function pct(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  return `${n > 0 ? "+" : ""}${n.toFixed(digits)}%`;
}

export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`;
}
