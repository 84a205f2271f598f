// The dashboard: sign in, then the page and filters the URL names. Every number is the API's.
import './style.css';
import { all, ApiError, setBase } from './api.js';
import { claims, expired, finishCognito, signOut, startCognito, takeTokenFromFragment, token, useToken } from './auth.js';
import { destroyAll } from './charts.js';
import { loadConfig } from './config.js';
import { adherence } from './pages/adherence.js';
import { overview } from './pages/overview.js';
import { quality } from './pages/quality.js';
import { robot } from './pages/robot.js';
import { go, href, PAGES, read } from './state.js';

const TITLES = { overview: 'Fleet overview', robot: 'Robot drill-down', adherence: 'Adherence', quality: 'Data quality' };
const RENDER = { overview, robot, adherence, quality };
const main = document.getElementById('app');
let config;
let facilities = null; // [{id, name}] the token can see, from /v1/robots
let rendering = 0;

function onRobot(robotId) {
  go({ page: 'robot', robot: robotId });
}

function signInPage(message = '') {
  document.getElementById('filters').hidden = true;
  document.getElementById('nav').innerHTML = '';
  document.getElementById('who').textContent = '';
  if (config.auth === 'cognito') {
    main.innerHTML = `<section class="card signin"><h2>Sign in</h2><p class="error">${message}</p>
      <button id="signin" type="button">Sign in with your hospital account</button></section>`;
    main.querySelector('#signin').addEventListener('click', () => startCognito(config.cognito));
    return;
  }
  main.innerHTML = `<section class="card signin"><h2>Sign in</h2><p class="error">${message}</p>
    <p>Paste a token from <code>lake token --facility FAC-003</code> (or <code>--admin</code>), or start
    <code>lake serve --open</code> to be signed in as the local user.</p>
    <textarea id="token" rows="4" placeholder="eyJ..."></textarea><button id="signin" type="button">Sign in</button></section>`;
  main.querySelector('#signin').addEventListener('click', () => {
    const value = main.querySelector('#token').value.trim();
    if (!value) return;
    useToken(value);
    facilities = null;
    location.hash = '#/overview';
    route();
  });
}

function renderNav(s) {
  const c = claims(token()) || {};
  const groups = c['cognito:groups'] || c.groups || [];
  document.getElementById('who').innerHTML = `${c.sub || c['cognito:username'] || ''} · ${groups.join(', ')}
    <button id="signout" type="button">Sign out</button>`;
  document.getElementById('signout').addEventListener('click', () => { signOut(); facilities = null; signInPage(); });
  document.getElementById('nav').innerHTML = PAGES.map((p) =>
    `<a href="${href({ page: p })}" class="${p === s.page ? 'active' : ''}" data-page="${p}">${TITLES[p]}</a>`).join('');
}

function renderFilters(s) {
  const bar = document.getElementById('filters');
  bar.hidden = false;
  bar.innerHTML = `<fieldset data-facilities><legend>Facilities</legend>${facilities.map((f) =>
    `<label><input type="checkbox" value="${f.id}" ${s.facilities.includes(f.id) ? 'checked' : ''}> ${f.id}
     <span class="muted">${f.name}</span></label>`).join('')}<span class="muted">(none ticked = all yours)</span></fieldset>
    <label>From <input type="date" id="from" value="${s.from}"></label>
    <label>To <input type="date" id="to" value="${s.to}"></label>
    ${s.robot ? `<span class="chip" data-selected-robot>${s.robot} <button type="button" id="clear-robot" title="all robots">×</button></span>` : ''}`;
  bar.querySelectorAll('[data-facilities] input').forEach((box) => box.addEventListener('change', () => {
    go({ facilities: [...bar.querySelectorAll('[data-facilities] input:checked')].map((b) => b.value), robot: '' });
  }));
  bar.querySelector('#from').addEventListener('change', (e) => go({ from: e.target.value }));
  bar.querySelector('#to').addEventListener('change', (e) => go({ to: e.target.value }));
  bar.querySelector('#clear-robot')?.addEventListener('click', () => go({ robot: '', page: s.page === 'robot' ? 'overview' : s.page }));
}

async function route() {
  if (!token() || expired(token())) return signInPage(token() ? 'Your token expired: sign in again.' : '');
  const s = read();
  if (s.page === 'signin') return signInPage();
  const run = ++rendering;
  document.body.dataset.state = 'loading';
  try {
    if (!facilities) {
      const robots = await all('/robots');
      const seen = new Map(robots.map((r) => [r.facility_id, r.facility_name]));
      facilities = [...seen].map(([id, name]) => ({ id, name })).sort((a, b) => a.id.localeCompare(b.id));
    }
    renderNav(s);
    renderFilters(s);
    destroyAll();
    const page = document.createElement('div');
    page.dataset.page = s.page;
    page.innerHTML = `<h1>${TITLES[s.page]}${s.robot && s.page !== 'quality' && s.page !== 'adherence' ? ` · ${s.robot}` : ''}</h1>`;
    await RENDER[s.page](page, s, { onRobot });
    if (run !== rendering) return; // a newer navigation took over
    main.replaceChildren(page);
    document.body.dataset.state = 'ready';
    performance.mark(`${s.page}-ready`);
  } catch (e) {
    if (run !== rendering) return;
    if (e instanceof ApiError && e.status === 401) { signOut(); facilities = null; return signInPage(e.message); }
    main.innerHTML = `<p class="card error" data-error>${e.message}</p>`;
    document.body.dataset.state = 'error';
  }
}

async function start() {
  config = await loadConfig();
  setBase(config.api);
  takeTokenFromFragment();
  if (config.auth === 'cognito') {
    try { await finishCognito(config.cognito); } catch (e) { return signInPage(e.message); }
  }
  window.addEventListener('hashchange', route);
  await route();
}

start().catch((e) => { main.innerHTML = `<p class="card error">${e.message}</p>`; });
