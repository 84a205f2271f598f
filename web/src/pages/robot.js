// Robot drill-down: hourly telemetry of one arm (force, torque, motor temperature, latency p95)
// with the rollup job's anomalies marked and missing hours drawn as gaps, maintenance events on
// the same time axis, failure precursors and the raw tables.
import { all, get } from '../api.js';
import { chart, COLORS, hourLabel, timeAxis } from '../charts.js';
import { apiFilters, go } from '../state.js';
import { table } from '../table.js';

const HOUR = 3600 * 1000;
const METRICS = [
  ['force_newtons_avg', 'Force (N, hourly mean)'], ['torque_nm_avg', 'Torque (N·m, hourly mean)'],
  ['motor_temp_c_avg', 'Motor temperature (°C, hourly mean)'], ['latency_ms_p95', 'Latency p95 (ms)'],
];

/** Points of one metric, with a null after every hour that is not followed by the next hour. */
export function withGaps(rows, key) {
  const points = [];
  rows.forEach((row, i) => {
    const x = Date.parse(row.hour);
    points.push({ x, y: row[key] });
    const next = rows[i + 1];
    if (next && Date.parse(next.hour) - x > HOUR) points.push({ x: x + HOUR, y: null });
  });
  return points;
}

export async function robot(main, s, { onRobot }) {
  if (!s.robot) {
    main.insertAdjacentHTML('beforeend', '<p class="muted">Pick a robot: click one in the overview or in adherence.</p>');
    const robots = await all('/robots', { facility_id: s.facilities });
    table(main, 'robots', 'Robots', [{ key: 'robot_id', label: 'robot', robotLink: true }, { key: 'facility_id' },
      { key: 'model' }, { key: 'status' }], robots, { path: '/robots', params: { facility_id: s.facilities } }, { onRobot });
    return;
  }
  const range = apiFilters(s, { robot: false });
  const when = { from: range.from, to: range.to };
  const id = encodeURIComponent(s.robot);
  const [info, hours, anomalies, maintenance, precursors] = await Promise.all([
    get(`/robots/${id}`),
    all(`/robots/${id}/telemetry/hourly`, { ...when, arm_id: s.arm }),
    all(`/robots/${id}/anomalies`, when),
    all(`/robots/${id}/maintenance`),
    all('/views/v_failure_precursors', { robot_id: s.robot }),
  ]);
  const head = document.createElement('section');
  head.className = 'card robot-head';
  head.innerHTML = `<h2 data-robot-title>${info.robot_id}</h2>
    <p>${info.model} · ${info.facility_id} (${info.facility_name}) · status <b>${info.status}</b> · firmware
    ${info.firmware_version}</p>
    <label>Arm <select id="arm">${[1, 2, 3, 4].map((a) => `<option ${String(a) === s.arm ? 'selected' : ''}>${a}</option>`).join('')}</select></label>`;
  head.querySelector('#arm').addEventListener('change', (e) => go({ arm: e.target.value }));
  main.append(head);

  const times = [...hours.map((h) => Date.parse(h.hour)), ...maintenance.map((m) => Date.parse(m.started_at))];
  const min = range.from ? Date.parse(range.from) : Math.min(...times);
  const max = range.to ? Date.parse(range.to) : Math.max(...times) + HOUR;
  const grid = document.createElement('section');
  grid.className = 'grid';
  main.append(grid);
  for (const [key, title] of METRICS) {
    const flagged = anomalies.filter((a) => a.metric === key).map((a) => ({ x: Date.parse(a.hour), y: a.value }));
    chart(grid, key, `${title}, arm ${s.arm}`, {
      type: 'line',
      data: { datasets: [
        { label: key, data: withGaps(hours, key), borderColor: COLORS[0], backgroundColor: COLORS[0], pointRadius: 0,
          spanGaps: false, borderWidth: 1.5 },
        { type: 'scatter', label: 'anomaly (arms pooled)', data: flagged, borderColor: COLORS[1],
          backgroundColor: COLORS[1], pointStyle: 'triangle', pointRadius: 6 },
      ] },
      options: { parsing: false, scales: { x: timeAxis(min, max) },
        plugins: { tooltip: { callbacks: { title: (items) => hourLabel(items[0].parsed.x) } } } },
    });
  }
  chart(grid, 'maintenance', 'Maintenance events (same time axis)', {
    type: 'bar',
    data: {
      labels: maintenance.map((m) => `${m.maintenance_type} ${m.maintenance_id}`),
      datasets: [{ label: 'in maintenance', backgroundColor: COLORS[3], borderSkipped: false,
        data: maintenance.map((m) => [Date.parse(m.started_at), Date.parse(m.completed_at || m.started_at) + 1]) }],
    },
    options: { indexAxis: 'y', scales: { x: timeAxis(min, max) }, plugins: { legend: { display: false } } },
  });
  table(main, 'anomalies', 'Anomalies', [{ key: 'hour' }, { key: 'metric' }, { key: 'value' },
    { key: 'baseline_mean' }, { key: 'z_score' }], anomalies, { path: `/robots/${id}/anomalies`, params: when });
  table(main, 'maintenance', 'Maintenance', [{ key: 'maintenance_id' }, { key: 'maintenance_type', label: 'type' },
    { key: 'started_at' }, { key: 'completed_at' }, { key: 'downtime_hours' }, { key: 'failure_mode' },
    { key: 'cost_usd' }], maintenance, { path: `/robots/${id}/maintenance`, params: {} });
  table(main, 'failure_precursors', 'Failure precursors (3 days before each failure vs the 30 before)',
    (precursors[0] ? Object.keys(precursors[0]) : ['maintenance_id']).map((key) => ({ key })), precursors,
    { path: '/views/v_failure_precursors', params: { robot_id: s.robot } });
  table(main, 'telemetry_hourly', `Hourly telemetry, arm ${s.arm}`, [{ key: 'hour' }, { key: 'sample_count' },
    { key: 'force_newtons_avg' }, { key: 'torque_nm_avg' }, { key: 'motor_temp_c_avg' }, { key: 'latency_ms_p95' },
    { key: 'error_count' }], hours, { path: `/robots/${id}/telemetry/hourly`, params: { ...when, arm_id: s.arm } });
}
