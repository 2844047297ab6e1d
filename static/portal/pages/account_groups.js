/* The Accounts page's groups section (templates/portal/_account_groups.html): account groups (GET/POST
 * /api/account-groups, PATCH/DELETE /api/account-groups/{id}, members under /members), an order form that sends one
 * order to a group (POST /api/account-groups/{id}/orders) and the recent group orders (GET /api/group-orders), each
 * with one line per account: its amount, status and, when it failed or was skipped, why. Live: group_order_update and
 * order_update events reload the orders. Runs after the Accounts page's own controller (accounts.js), if any. */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.accounts;
  const STATES = {
    pending: 'Sending', open: 'Resting', closed: 'Filled', canceled: 'Cancelled', rejected: 'Rejected',
    failed: 'Failed', skipped: 'Skipped',
  };
  const GROUP_STATES = { working: 'Working', filled: 'Filled', partial: 'Partly filled', failed: 'Failed' };

  A.pages.account_groups = async () => {
    const { T, h, GET, POST, DEL, api, number, when, onSubmit, armedButton, act, live, debounce } = A;
    if (!T('account-groups')) return;
    let accounts = [];
    let groups = [];

    const accountName = (a) => `${a.name || a.platform} (${a.platform_name || a.platform}, ${a.trading_mode})`;
    const accountOptions = (exclude = []) => accounts
      .filter((a) => !exclude.includes(a.id))
      .map((a) => h('option', { value: a.id }, accountName(a)));
    const numOrNull = (v) => (v === '' || v === undefined ? null : v);

    function memberRow(group, m) {
      const err = h('span', { class: 'field-error', testid: 'member-error' });
      const size = m.is_primary ? 'order size' : (m.fixed_amount !== null ? `fixed ${number(m.fixed_amount)}` : `× ${number(m.multiplier)}`);
      const toggle = h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', testid: 'member-toggle',
        onclick: (ev) => act(ev.currentTarget, err, async () => {
          await api('PATCH', `account-groups/${group.id}/members/${m.id}`, { enabled: !m.enabled });
          await load();
        }),
      }, m.enabled ? 'Disable' : 'Enable');
      const remove = m.is_primary ? null : armedButton('Remove', 'Confirm remove', 'member-remove', (btn) => act(btn, err, async () => {
        await DEL(`account-groups/${group.id}/members/${m.id}`);
        await load();
      }));
      return h('tr', { testid: 'member-row', dataset: { id: m.id, enabled: String(m.enabled) } },
        h('td', { 'data-label': 'Account', testid: 'member-account' }, m.account_label),
        h('td', { 'data-label': 'Role' }, m.is_primary ? 'Primary' : 'Follower'),
        h('td', { 'data-label': 'Size', testid: 'member-size' }, size),
        h('td', { 'data-label': 'Max order value', class: 'r' }, m.max_order_value === null ? '—' : number(m.max_order_value)),
        h('td', { 'data-label': 'State' }, m.enabled ? 'On' : 'Off'),
        h('td', { 'data-label': 'Actions', class: 'r' }, h('span', { class: 'actions' }, toggle, remove), err));
    }

    function memberForm(group) {
      const taken = group.members.map((m) => m.account_id);
      const form = h('form', { class: 'form-grid', testid: 'member-form', novalidate: true },
        h('div', { class: 'field' }, h('label', {}, 'Follower account', h('select', { name: 'account_id', testid: 'member-account-select' }, accountOptions(taken))),
          h('p', { class: 'field-error', 'data-error-for': 'account_id' })),
        h('div', { class: 'field' }, h('label', {}, 'Multiplier', h('input', { type: 'number', name: 'multiplier', min: '0', step: 'any', value: '1', testid: 'member-multiplier' })),
          h('p', { class: 'field-error', 'data-error-for': 'multiplier' })),
        h('div', { class: 'field' }, h('label', {}, 'Fixed size', h('input', { type: 'number', name: 'fixed_amount', min: '0', step: 'any', placeholder: 'instead of the multiplier', testid: 'member-fixed' })),
          h('p', { class: 'field-error', 'data-error-for': 'fixed_amount' })),
        h('div', { class: 'field' }, h('label', {}, 'Max order value', h('input', { type: 'number', name: 'max_order_value', min: '0', step: 'any', placeholder: 'no cap', testid: 'member-max-value' })),
          h('p', { class: 'field-error', 'data-error-for': 'max_order_value' })),
        h('div', { class: 'field field-actions' }, h('p', { class: 'form-error', role: 'alert' }),
          h('button', { type: 'submit', class: 'btn btn-ghost', testid: 'member-add' }, 'Add follower')));
      onSubmit(form, async (data) => {
        await POST(`account-groups/${group.id}/members`, {
          account_id: data.account_id, multiplier: data.multiplier || '1',
          fixed_amount: numOrNull(data.fixed_amount), max_order_value: numOrNull(data.max_order_value),
        });
        await load();
      });
      if (!taken.length || accounts.length <= taken.length) form.hidden = true; // no account left to add
      return form;
    }

    function groupCard(group) {
      const err = h('span', { class: 'field-error', testid: 'group-error' });
      const toggle = h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', testid: 'group-toggle',
        onclick: (ev) => act(ev.currentTarget, err, async () => {
          await api('PATCH', `account-groups/${group.id}`, { enabled: !group.enabled });
          await load();
        }),
      }, group.enabled ? 'Disable group' : 'Enable group');
      const remove = armedButton('Delete group', 'Confirm delete', 'group-delete', (btn) => act(btn, err, async () => {
        await DEL(`account-groups/${group.id}`);
        await load();
      }));
      return h('div', { class: 'group', testid: 'group', dataset: { id: group.id, enabled: String(group.enabled) } },
        h('div', { class: 'card-head' }, h('h3', { testid: 'group-title' }, group.name, group.enabled ? '' : ' (off)'),
          h('span', { class: 'actions' }, toggle, remove)),
        err,
        h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Account'), h('th', {}, 'Role'), h('th', {}, 'Size'),
            h('th', { class: 'r' }, 'Max order value'), h('th', {}, 'State'), h('th', { class: 'r' }, 'Actions'))),
          h('tbody', { testid: 'member-list' }, group.members.map((m) => memberRow(group, m))))),
        memberForm(group));
    }

    function childLine(c) {
      const text = `${c.account_label}${c.slice ? ` (part ${c.slice + 1})` : ''}: ${number(c.amount)} `
        + `${STATES[c.status] || c.status}${c.status === 'closed' && c.average ? ` at ${number(c.average)}` : ''}`;
      return h('li', { testid: 'group-child', dataset: { status: c.status, account: c.account_id || '' } },
        h('span', { class: `badge badge-${c.status}` }, STATES[c.status] || c.status), ' ', text,
        c.error ? h('span', { class: 'muted small', testid: 'group-child-error' }, ` — ${c.error}`) : null);
    }

    function orderCard(go) {
      return h('div', { class: 'group-order', testid: 'group-order', dataset: { id: go.id, status: go.status } },
        h('div', { class: 'muted small' }, when(go.created_at)),
        h('strong', {}, `${go.side} ${number(go.amount)} ${go.symbol} → ${go.group_name}: `),
        h('span', { class: `badge badge-${go.status}`, testid: 'group-order-status' }, GROUP_STATES[go.status] || go.status),
        h('ul', { class: 'order-parts' }, go.children.map(childLine)));
    }

    async function loadOrders() {
      const { group_orders: rows } = await GET('group-orders?limit=10');
      T('group-orders').replaceChildren(...(rows || []).map(orderCard));
      T('group-orders-empty').hidden = (rows || []).length > 0;
    }

    async function load() {
      const [acc, grp] = await Promise.all([GET('accounts').catch(() => ({ accounts: [] })), GET('account-groups')]);
      accounts = acc.accounts || [];
      groups = grp.groups || [];
      T('group-primary').replaceChildren(...accountOptions());
      T('group-list').replaceChildren(...groups.map(groupCard));
      T('group-empty').hidden = groups.length > 0;
      T('group-count').textContent = `${groups.length} ${groups.length === 1 ? 'group' : 'groups'}`;
      const sel = T('group-order-group');
      const chosen = sel.value;
      sel.replaceChildren(...groups.map((g) => h('option', { value: g.id }, g.name)));
      if (groups.some((g) => g.id === chosen)) sel.value = chosen;
    }

    onSubmit(T('group-form'), async (data, form) => {
      await POST('account-groups', { name: data.name, primary_account_id: data.primary_account_id });
      form.elements.name.value = '';
      await load();
    });

    onSubmit(T('group-order-form'), async (data, form) => {
      if (!data.group) throw new Error('Create a group first.');
      const body = {
        symbol: data.symbol.toUpperCase(), side: data.side, type: data.type, amount: data.amount,
        all_or_nothing: form.elements.all_or_nothing.checked,
      };
      if (data.type === 'limit') body.price = numOrNull(data.price);
      const { group_order: go } = await POST(`account-groups/${data.group}/orders`, body);
      const failed = go.accounts_failed.length;
      A.toast(`Sent to ${go.children.length} ${go.children.length === 1 ? 'order' : 'orders'}: ${GROUP_STATES[go.status] || go.status}`
        + (failed ? ` (${failed} ${failed === 1 ? 'account' : 'accounts'} failed)` : ''), failed ? 'error' : 'info');
      await loadOrders();
    });

    // An account added or removed above (accounts.js redraws its list): the account choices follow.
    const accountList = T('accounts-list');
    // Only a real change of the accounts redraws the groups: the list above is also redrawn when balances move, and a
    // redraw would reset a member form being filled in.
    const accountsKey = (list) => JSON.stringify((list || []).map((a) => [a.id, a.name, a.platform, a.trading_mode]));
    const accountsChanged = async () => {
      const acc = await GET('accounts');
      if (accountsKey(acc.accounts) !== accountsKey(accounts)) await load();
    };
    if (accountList) new MutationObserver(debounce(() => accountsChanged().catch(() => {}), 300)).observe(accountList, { childList: true });
    const reload = debounce(() => loadOrders().catch(() => {}), 300);
    live.on('group_order_update', reload);
    live.on('order_update', ({ order } = {}) => { if (order && (order.group_order_id || order.account_id)) reload(); });
    live.on('reconnect', reload);
    await load();
    await loadOrders();
  };

  // The Accounts page runs its own controller (accounts.js) and this section's, each on its own: one failing never
  // keeps the other from showing.
  A.pages.accounts = async () => {
    const results = await Promise.allSettled([base ? base() : null, A.pages.account_groups()]);
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  };
})();
