// The URL holds the page and the filters (#/page?facility=FAC-001,FAC-002&from=&to=&robot=...),
// so a view can be shared. Dates are days (UTC); `to` is inclusive in the UI and sent to the API
// as the next day's midnight (the API's ranges are half-open).
export const PAGES = ['overview', 'robot', 'adherence', 'quality'];

export function read() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(query);
  return {
    page: PAGES.includes(path) ? path : path === 'signin' ? 'signin' : 'overview',
    facilities: (q.get('facility') || '').split(',').filter(Boolean),
    from: q.get('from') || '',
    to: q.get('to') || '',
    robot: q.get('robot') || '',
    arm: q.get('arm') || '1',
    threshold: q.get('threshold') || '',
  };
}

export function href(changes = {}) {
  const s = { ...read(), ...changes };
  const q = new URLSearchParams();
  if (s.facilities.length) q.set('facility', s.facilities.join(','));
  for (const key of ['from', 'to', 'robot']) if (s[key]) q.set(key, s[key]);
  if (s.page === 'robot' && s.arm !== '1') q.set('arm', s.arm);
  if (s.page === 'adherence' && s.threshold) q.set('threshold', s.threshold);
  const text = q.toString().replace(/%2C/g, ',');
  return `#/${s.page}${text ? `?${text}` : ''}`;
}

export function go(changes) {
  location.hash = href(changes);
}

function nextDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The filters as API parameters. */
export function apiFilters(s, { robot = true } = {}) {
  return {
    facility_id: s.facilities,
    from: s.from || undefined,
    to: s.to ? nextDay(s.to) : undefined,
    robot_id: robot && s.robot ? s.robot : undefined,
  };
}
