// The public JSON API, and what it can do (read from its own OpenAPI document).

export class ApiError extends Error {
  constructor(path, status, detail) {
    super(status ? `${path} answered ${status}${detail ? `: ${detail}` : ""}` : `${path}: ${detail}`);
    this.path = path;
    this.status = status;
  }
}

const TIMEOUT_MS = 10000;

/** GET a JSON document; throws ApiError on a network failure or a non-2xx answer. */
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, v);
  const url = query.size ? `${path}?${query}` : path;
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw new ApiError(path, 0, e.name === "TimeoutError" ? "no answer within 10 s" : "the server cannot be reached");
  }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: reported below */ }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
    throw new ApiError(path, response.status, detail);
  }
  return body;
}

let capabilities = null;

/** History intervals, known sources, and whether optional routes (coverage) exist. */
export async function getCapabilities() {
  if (capabilities) return capabilities;
  const doc = await getJson("/openapi.json");
  const history = doc.paths?.["/assets/{asset_id}/history"]?.get?.parameters ?? [];
  const param = (name) => history.find((p) => p.name === name)?.schema ?? {};
  const choices = (schema) => schema.enum ?? (schema.anyOf ?? []).flatMap((s) => s.enum ?? []);
  capabilities = {
    intervals: choices(param("interval")).filter((i) => i !== "raw"),
    sources: choices(param("source")),
    coverage: Boolean(doc.paths?.["/assets/{asset_id}/coverage"]),
  };
  return capabilities;
}

/** Seconds in an interval name such as 5m, 1h, 1d (null when it is not one). */
export function intervalSeconds(name) {
  const m = /^(\d+)([smhdw])$/.exec(name);
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
}
