/* The trades page's "Orders" card: the user's latest orders (GET /api/orders), bots' and manual, on every exchange and
 * broker. A resting order (a limit, a stop, or any order waiting for a stock market to open) can be cancelled; an order
 * split into parts (a market's maximum, a broker's freeze quantity) lists each part with its own status, so it is plain
 * which parts filled and which failed, and why. Reloads on order_update and trade_executed events. Runs after
 * pages.trades (trades.js) and the order form (order_form.js). */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.trades;
  const STATES = { open: 'Resting', closed: 'Filled', canceled: 'Cancelled', rejected: 'Rejected', pending: 'Sending' };
  const LIMIT = 20;

  A.pages.trades = async () => {
    if (base) await base();
    const { T, h, GET, POST, live, debounce, when, number, armedButton, act, labelTable } = A;
    const body = T('orders-list');
    if (!body) return;
    const error = T('orders-error');

    const statusCell = (order) => {
      const cell = h('td', { testid: 'order-status' },
        h('span', { class: `badge badge-${order.status}` }, STATES[order.status] || order.status));
      if (order.reason && order.status === 'rejected') cell.append(h('div', { class: 'muted small' }, order.reason));
      const parts = order.children || [];
      if (parts.length) {
        const list = h('ul', { class: 'order-parts', testid: 'order-parts' });
        parts.forEach((part, i) => list.append(h('li', { testid: 'order-part', dataset: { status: part.status } },
          `Part ${i + 1}: ${number(part.amount)} ${STATES[part.status] || part.status}`
          + (part.filled && Number(part.filled) !== Number(part.amount) ? `, ${number(part.filled)} filled` : '')
          + (part.reason && part.status === 'rejected' ? ` (${part.reason})` : ''))));
        cell.append(h('div', { class: 'muted small' }, `Split into ${parts.length} parts`), list);
      }
      return cell;
    };

    const row = (order) => {
      const actions = h('td', { class: 'actions' });
      if (order.status === 'open') {
        actions.append(armedButton('Cancel', 'Confirm cancel', 'order-cancel', (btn) => act(btn, error, async () => {
          await POST(`orders/${order.id}/cancel`, {});
          await load();
        })));
      }
      const price = order.average || order.price;
      return h('tr', { testid: 'order-row', dataset: { id: order.id, status: order.status } },
        h('td', {}, when(order.created_at)),
        h('td', {}, order.exchange),
        h('td', {}, order.symbol),
        h('td', {}, order.side),
        h('td', {}, order.type.replace('_', ' ')),
        h('td', { class: 'r' }, number(order.amount)),
        h('td', { class: 'r' }, number(order.filled)),
        h('td', { class: 'r' }, price === null || price === undefined ? '—' : number(price)),
        statusCell(order),
        actions);
    };

    async function load() {
      const { orders } = await GET(`orders?limit=${LIMIT}`);
      const top = (orders || []).filter((o) => !o.parent_id); // parts are shown under their order
      body.replaceChildren(...top.map(row));
      T('orders-empty').hidden = top.length > 0;
      labelTable(body.closest('table'));
    }

    const reload = debounce(() => load().catch((e) => { error.textContent = e.message; }), 300);
    live.on('order_update', reload);
    live.on('trade_executed', reload);
    live.on('reconnect', reload);
    await load().catch((e) => { error.textContent = e.message; });
  };
})();
