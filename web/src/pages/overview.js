// Fleet overview: KPIs, procedures per week, outcome rates per month, utilization per day, the
// robots in scope (click one to drill down). With a robot selected every panel is that robot's.
import { all, get } from '../api.js';
import { series } from '../charts.js';
import { apiFilters } from '../state.js';
import { fmt, table } from '../table.js';

const KPIS = [
  ['procedures', 'Procedures'], ['success_rate', 'Success rate', 'percent'],
  ['complication_rate', 'Complication rate', 'percent'], ['utilization', 'Utilization', 'percent'],
  ['robots_in_maintenance', 'Robots in maintenance'], ['anomalies', 'Open anomalies'],
];

export async function overview(main, s, { onRobot }) {
  const filters = apiFilters(s);
  const [kpis, weeks, months, days, robots] = await Promise.all([
    get('/panels/kpis', filters),
    get('/panels/procedures_weekly', filters),
    get('/panels/outcomes_monthly', filters),
    get('/panels/utilization_daily', filters),
    all('/robots', { facility_id: s.facilities }),
  ]);
  const k = kpis.data[0];
  const cards = document.createElement('section');
  cards.className = 'kpis';
  cards.innerHTML = KPIS.map(([key, label, kind]) =>
    `<div class="card kpi"><span>${label}</span><strong data-kpi="${key}">${fmt(k[key], kind)}</strong></div>`).join('');
  main.append(cards);
  const grid = document.createElement('section');
  grid.className = 'grid';
  main.append(grid);
  series(grid, 'procedures_weekly', 'Procedures per week', weeks.data.map((w) => w.week_start), [
    { label: 'performed', data: weeks.data.map((w) => w.procedures) },
    { label: 'cancelled', data: weeks.data.map((w) => w.cancelled) },
  ], { type: 'bar' });
  series(grid, 'outcomes_monthly', 'Outcome rates per month', months.data.map((m) => m.month_start), [
    { label: 'success', data: months.data.map((m) => m.success_rate) },
    { label: 'complication', data: months.data.map((m) => m.complication_rate) },
    { label: '30-day readmission', data: months.data.map((m) => m.readmission_rate) },
  ], { percent: true });
  series(grid, 'utilization_daily', 'Utilization per day (robots that operated)', days.data.map((d) => d.day), [
    { label: 'utilization', data: days.data.map((d) => d.utilization) },
  ], { percent: true });
  const shown = s.robot ? robots.filter((r) => r.robot_id === s.robot) : robots;
  table(main, 'robots', 'Robots', [
    { key: 'robot_id', label: 'robot', robotLink: true }, { key: 'facility_id', label: 'facility' },
    { key: 'facility_name', label: 'facility name' }, { key: 'model' }, { key: 'status' },
    { key: 'firmware_version', label: 'firmware' }, { key: 'install_date', label: 'installed' },
  ], shown, { path: s.robot ? `/robots/${s.robot}` : '/robots', params: { facility_id: s.facilities } }, { onRobot });
  table(main, 'kpis', 'KPIs (as a table)', Object.keys(k).map((key) => ({ key })), [k],
    { path: '/panels/kpis', params: filters });
}
