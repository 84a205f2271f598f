// Data quality (admins: the ingest ledger has no facility): where every row read went per entity,
// rejected rows by entity and reason, objects by ledger status.
import { ApiError, get } from '../api.js';
import { series } from '../charts.js';
import { table } from '../table.js';

const PARTS = [['loaded_on_arrival', 'loaded on arrival'], ['loaded_after_parent', 'loaded after parent'],
  ['still_parked', 'still parked'], ['rejected', 'rejected']];

export async function quality(main) {
  let panels;
  try {
    panels = await Promise.all(['reconciliation', 'rejects', 'ledger_status'].map((p) => get(`/panels/${p}`)));
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      main.insertAdjacentHTML('beforeend', '<p class="card" data-denied>Data quality reads the ingest ledger, which is '
        + 'visible to admins only (it has no facility).</p>');
      return;
    }
    throw e;
  }
  const [recon, rejects, ledger] = panels.map((p) => p.data);
  const grid = document.createElement('section');
  grid.className = 'grid';
  main.append(grid);
  series(grid, 'reconciliation', 'Share of rows read per entity', recon.map((r) => r.entity),
    PARTS.map(([key, label]) => ({ label, data: recon.map((r) => (r.rows_in ? r[key] / r.rows_in : 0)) })),
    { type: 'bar', stacked: true, percent: true });
  series(grid, 'rejects', 'Rejected rows by entity and reason', rejects.map((r) => `${r.entity}: ${r.reason}`),
    [{ label: 'rows rejected', data: rejects.map((r) => r.rows_rejected) }], { type: 'bar' });
  table(main, 'reconciliation', 'Reconciliation per entity', [{ key: 'entity' }, { key: 'objects' },
    { key: 'rows_in', label: 'rows read' }, ...PARTS.map(([key, label]) => ({ key, label }))], recon,
  { path: '/panels/reconciliation', params: {} });
  table(main, 'rejects', 'Rejects by reason', [{ key: 'entity' }, { key: 'reason' }, { key: 'objects' },
    { key: 'rows_rejected', label: 'rows rejected' }], rejects, { path: '/panels/rejects', params: {} });
  table(main, 'ledger_status', 'Objects by ledger status', [{ key: 'status' }, { key: 'objects' },
    { key: 'rows_in', label: 'rows read' }], ledger, { path: '/panels/ledger_status', params: {} });
}
