// Adherence: robots silent for more than 48 h as of the data's latest day, or used less than a
// threshold over the 30 days before it; each row links to the robot.
import { get } from '../api.js';
import { go } from '../state.js';
import { table } from '../table.js';

export async function adherence(main, s, { onRobot }) {
  const threshold = s.threshold ? Number(s.threshold) / 100 : 0.05;
  const params = { facility_id: s.facilities, threshold };
  const rows = (await get('/panels/adherence', params)).data;
  const form = document.createElement('section');
  form.className = 'card';
  form.innerHTML = `<label>Utilization below <input id="threshold" type="number" min="0" max="100" step="0.5"
    value="${threshold * 100}"> % over the last 30 days</label>
    <p class="muted">As of ${rows[0]?.as_of?.slice(0, 10) || '—'} (the day after the latest activity in your facilities);
    silent = no procedure and no telemetry for more than 48 h.</p>`;
  form.querySelector('#threshold').addEventListener('change', (e) => go({ threshold: e.target.value }));
  main.append(form);
  table(main, 'adherence', 'Robots needing attention', [
    { key: 'robot_id', label: 'robot', robotLink: true }, { key: 'facility_id', label: 'facility' }, { key: 'status' },
    { key: 'last_activity_at', label: 'last activity' }, { key: 'hours_silent', label: 'silent', kind: 'hours' },
    { key: 'silent', label: 'silent > 48 h' }, { key: 'utilization', kind: 'percent' },
    { key: 'under_utilized', label: 'below threshold' },
  ], rows, { path: '/panels/adherence', params }, { onRobot });
}
