// Every chart of the app, on Chart.js (tree-shaken: only the controllers used are registered).
// Time axes are linear scales over epoch milliseconds (no date adapter needed); a missing hour
// is a null point, and lines are not spanned across nulls, so gaps are drawn as gaps.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement,
  PointElement, ScatterController, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement,
  PointElement, ScatterController, Tooltip);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = 'system-ui, sans-serif';

export const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'];
const charts = new Set();

/** A chart in a titled card appended to `parent`; the canvas is `[data-chart=name]`. */
export function chart(parent, name, title, config) {
  const card = document.createElement('figure');
  card.className = 'card chart';
  card.innerHTML = `<figcaption>${title}</figcaption><div class="plot"><canvas data-chart="${name}"></canvas></div>`;
  parent.append(card);
  const canvas = card.querySelector('canvas');
  const instance = new Chart(canvas, config);
  canvas.chart = instance; // what is drawn, for the browser tests
  charts.add(instance);
  return instance;
}

export function destroyAll() {
  for (const c of charts) c.destroy();
  charts.clear();
}

export function hourLabel(ms) {
  return new Date(ms).toISOString().slice(0, 13).replace('T', ' ') + 'h';
}

export function timeAxis(min, max) {
  return { type: 'linear', min, max, ticks: { callback: (v) => new Date(v).toISOString().slice(0, 10), maxTicksLimit: 8 } };
}

/** Category chart (bars or lines) over labels. */
export function series(parent, name, title, labels, datasets, { type = 'line', percent = false, stacked = false } = {}) {
  return chart(parent, name, title, {
    type,
    data: {
      labels,
      datasets: datasets.map((d, i) => ({ borderColor: COLORS[i % 6], backgroundColor: COLORS[i % 6], pointRadius: 2,
        ...d })),
    },
    options: {
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, ticks: percent ? { callback: (v) => `${Math.round(v * 100)} %` } : {} },
      },
    },
  });
}
