// Tables: every one has a CSV button that downloads the same rows from the API (format=csv).
import { downloadCsv } from './api.js';

export function fmt(value, kind) {
  if (value === null || value === undefined) return '—';
  if (kind === 'percent') return `${(value * 100).toFixed(1)} %`;
  if (kind === 'hours') return `${Number(value).toFixed(1)} h`;
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const text = String(value);
  return /^\d{4}-\d{2}-\d{2}T/.test(text) ? text.replace('T', ' ').replace(/:00(\+00:00|Z)$/, ' UTC') : text;
}

/**
 * A card with a title, a CSV button and a table of `rows`.
 * columns: [{key, label, kind, robotLink}]; source: {path, params, filename} for the CSV.
 */
export function table(parent, name, title, columns, rows, source, { onRobot } = {}) {
  const card = document.createElement('section');
  card.className = 'card';
  card.innerHTML = `<header><h3>${title}</h3><button type="button" class="csv" data-csv="${name}">CSV</button></header>`;
  card.querySelector('button').addEventListener('click', () =>
    downloadCsv(source.path, source.params, source.filename || `${name}.csv`).catch((e) => alert(e.message)));
  const wrap = document.createElement('div');
  wrap.className = 'scroll';
  const t = document.createElement('table');
  t.dataset.table = name;
  t.innerHTML = `<thead><tr>${columns.map((c) => `<th>${c.label || c.key}</th>`).join('')}</tr></thead>`;
  const body = document.createElement('tbody');
  for (const row of rows) {
    const tr = document.createElement('tr');
    for (const c of columns) {
      const td = document.createElement('td');
      const value = row[c.key];
      if (typeof value === 'number') td.className = 'n';
      if (c.robotLink && value && onRobot) {
        const a = document.createElement('a');
        a.href = '#';
        a.dataset.robot = value;
        a.textContent = value;
        a.addEventListener('click', (e) => { e.preventDefault(); onRobot(value); });
        td.append(a);
      } else {
        td.textContent = fmt(value, c.kind);
      }
      tr.append(td);
    }
    body.append(tr);
  }
  t.append(body);
  wrap.append(t);
  card.append(wrap);
  if (!rows.length) card.insertAdjacentHTML('beforeend', '<p class="muted">No rows for these filters.</p>');
  parent.append(card);
  return card;
}
