// The only way the app reads data: the query API (/v1), with the signed-in user's token, so
// every number is scoped by the API. Lists are followed page by page (next_cursor).
import { token } from './auth.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let base = '/v1';
export function setBase(url) {
  base = url.replace(/\/$/, '');
}

export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) query.append(key, v);
  }
  const text = query.toString();
  return `${base}${path}${text ? `?${text}` : ''}`;
}

async function call(path, params, accept = 'application/json') {
  const response = await fetch(url(path, params), {
    headers: { Accept: accept, Authorization: `Bearer ${token()}` },
  });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not problem+json */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function get(path, params = {}) {
  return (await call(path, params)).json();
}

/** Every row of a list endpoint (all pages, 1000 a page). */
export async function all(path, params = {}) {
  const rows = [];
  let cursor = null;
  do {
    const page = await get(path, { ...params, limit: 1000, cursor });
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

/** The same rows as CSV from the API (all pages), saved as `filename`. */
export async function downloadCsv(path, params, filename) {
  let text = '';
  let cursor = null;
  do {
    const response = await call(path, { ...params, limit: 1000, cursor, format: 'csv' }, 'text/csv');
    const body = await response.text();
    text += text ? body.slice(body.indexOf('\n') + 1) : body; // one header line
    cursor = response.headers.get('X-Next-Cursor');
  } while (cursor);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
