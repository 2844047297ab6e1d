/* The Trades page's Orders card, for orders sent to an account group (mirror): each such order (one per account and
 * part) says which group order it belongs to and on which account it went ("Desk · Family (luno)"), and a short list
 * under the card shows the latest group orders with every account's status and why one failed
 * (GET /api/group-orders). Runs after orders_list.js; re-annotates whenever the list is redrawn. */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.trades;
  const STATES = {
    pending: 'Sending', open: 'Resting', closed: 'Filled', canceled: 'Cancelled', rejected: 'Rejected',
    failed: 'Failed', skipped: 'Skipped',
  };

  A.pages.trades = async () => {
    if (base) await base();
    const { T, h, GET, live, debounce, number } = A;
    const body = T('orders-list');
    if (!body) return;
    let byOrder = new Map();

    function annotate() {
      body.querySelectorAll('tr[data-testid="order-row"]').forEach((row) => {
        const info = byOrder.get(row.dataset.id);
        const old = row.querySelector('[data-testid="order-group"]');
        if (!info) { if (old) old.remove(); return; }
        if (old) return;
        const cell = row.children[2] || row.lastElementChild;
        cell.append(h('div', { class: 'muted small', testid: 'order-group' }, `${info.group} · ${info.account}`));
      });
    }

    async function load() {
      const { group_orders: rows } = await GET('group-orders?limit=50');
      byOrder = new Map();
      (rows || []).forEach((go) => go.children.forEach((c) => {
        if (c.order_id) byOrder.set(c.order_id, { group: go.group_name, account: c.account_label, status: c.status });
      }));
      annotate();
      const card = T('orders-groups');
      if (!card) return;
      const latest = (rows || []).slice(0, 3);
      card.hidden = latest.length === 0;
      card.replaceChildren(...latest.map((go) => h('div', { class: 'muted small', testid: 'orders-group-order' },
        `${go.side} ${number(go.amount)} ${go.symbol} → ${go.group_name}: `,
        go.children.map((c) => `${c.account_label} ${STATES[c.status] || c.status}${c.error ? ` (${c.error})` : ''}`).join('; '))));
    }

    new MutationObserver(annotate).observe(body, { childList: true }); // orders_list.js redrew its rows
    const reload = debounce(() => load().catch(() => {}), 300);
    live.on('group_order_update', reload);
    live.on('reconnect', reload);
    await load().catch(() => {});
  };
})();
