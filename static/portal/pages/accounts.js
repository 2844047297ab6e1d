/* Accounts page: the user's trading accounts (GET/POST /api/accounts, DELETE /api/accounts/{id}), each with its health
 * (from its last connection test: POST /api/accounts/{id}/test) and its balance (GET /api/accounts/{id}/funds, read per
 * row so one slow exchange never holds the list). A fill on an account (trade_executed / order_update on the WebSocket,
 * with account_id) refreshes that account's balance. The groups section (#account-groups) belongs to
 * account_groups.js. */
(() => {
  'use strict';
  const A = window.amarktai;

  const HEALTH_BADGE = { ok: 'valid', failing: 'invalid', unreachable: 'pending', untested: 'untested' };
  const HEALTH_TEXT = { ok: 'healthy', failing: 'failing', unreachable: 'unreachable', untested: 'untested' };

  A.pages.accounts = async () => {
    const { T, h, GET, POST, DEL, money, number, when, onSubmit, armedButton, act, live, platforms, fillPlatformSelect, failedTo, badge, toast } = A;
    const form = T('account-form');
    const list = await platforms().catch(() => []);
    fillPlatformSelect(T('account-platform'), list);
    const modeSel = T('account-mode');
    const showMode = () => {
      const live = modeSel.value === 'live';
      form.querySelectorAll('[data-live-only]').forEach((el) => { el.hidden = !live; });
      form.querySelectorAll('[data-paper-only]').forEach((el) => { el.hidden = live; });
    };
    modeSel.addEventListener('change', showMode);
    showMode();

    const rows = new Map(); // account id -> {balance cell}

    function healthCell(account) {
      const health = account.health || {};
      const status = health.status || 'untested';
      const parts = [badge(HEALTH_TEXT[status] || status, HEALTH_BADGE[status] || 'untested', 'account-health')];
      const note = health.last_error || (health.last_checked_at ? `checked ${when(health.last_checked_at)}` : '');
      if (note) parts.push(h('span', { class: 'sub', testid: 'account-health-note' }, note));
      return h('span', {}, ...parts);
    }

    async function loadFunds(account) {
      const row = rows.get(account.id);
      if (!row) return;
      try {
        const funds = await GET(`accounts/${account.id}/funds`);
        const quote = account.quote_currency;
        const balances = funds.balances || {};
        const main = balances[quote];
        const others = Object.entries(balances).filter(([c, b]) => c !== quote && Number(b.total) > 0);
        row.balance.replaceChildren(...[
          h('span', { testid: 'account-balance' }, main ? money(main.total, quote) : money(0, quote)),
          others.length ? h('span', { class: 'sub', testid: 'account-holdings' },
            others.map(([c, b]) => `${number(b.total, 0, 8)} ${c}`).join(', ')) : null,
          h('span', { class: 'sub', testid: 'account-total-value' }, `worth ${money(funds.total_value, funds.currency)}`),
        ].filter(Boolean));
      } catch (err) {
        row.balance.replaceChildren(h('span', { class: 'field-error', testid: 'account-balance-error' }, err.message));
      }
    }

    function accountRow(account) {
      const err = h('span', { class: 'field-error', testid: 'account-row-error' });
      const balance = h('td', { 'data-label': 'Balance', class: 'r num', testid: 'account-balance-cell' }, '…');
      const health = h('td', { 'data-label': 'Health', testid: 'account-health-cell' }, healthCell(account));
      const test = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'account-test' }, 'Test');
      test.addEventListener('click', () => act(test, err, async () => {
        const res = await POST(`accounts/${account.id}/test`);
        health.replaceChildren(healthCell(res.account));
        toast(`${account.name}: ${res.message}`, res.ok ? 'info' : 'error');
        if (res.ok) loadFunds(account);
      }));
      const remove = armedButton('Delete', 'Confirm delete', 'account-delete', (btn) => act(btn, err, async () => {
        await DEL(`accounts/${account.id}`);
        toast(`${account.name} deleted`);
        await load();
      }));
      rows.set(account.id, { balance });
      return h('tr', { testid: 'account-row', dataset: { id: account.id } },
        h('td', { 'data-label': 'Name', testid: 'account-row-name' }, account.name || '—'),
        h('td', { 'data-label': 'Exchange', testid: 'account-row-platform' }, account.platform_name || account.platform),
        h('td', { 'data-label': 'Mode' }, badge(account.trading_mode, account.trading_mode, 'account-row-mode'),
          account.api_key ? h('span', { class: 'sub' }, account.api_key) : null),
        health,
        balance,
        h('td', { 'data-label': 'Actions', class: 'r' }, h('span', { class: 'actions' }, test, remove), err));
    }

    let accounts = [];
    async function load() {
      accounts = (await GET('accounts')).accounts || [];
      rows.clear();
      T('accounts-list').replaceChildren(...accounts.map(accountRow));
      T('accounts-empty').hidden = accounts.length > 0;
      T('accounts-count').textContent = `${accounts.length} ${accounts.length === 1 ? 'account' : 'accounts'}`;
      accounts.forEach((a) => loadFunds(a));
      document.dispatchEvent(new CustomEvent('amarktai:accounts', { detail: { accounts } }));
    }

    onSubmit(form, async (data) => {
      const body = { name: data.name, platform: data.platform, trading_mode: data.trading_mode };
      if (data.trading_mode === 'live') {
        Object.assign(body, { api_key: data.api_key, api_secret: data.api_secret });
        if (data.passphrase) body.passphrase = data.passphrase;
      } else if (data.starting_balance !== '') {
        body.starting_balance = Number(data.starting_balance);
      }
      const res = await POST('accounts', body);
      ['name', 'starting_balance', 'api_key', 'api_secret', 'passphrase'].forEach((n) => { form.elements[n].value = ''; });
      T('account-ok').textContent = res.account.trading_mode === 'live'
        ? `${res.account.name} added: test it to check the keys.` : `${res.account.name} added.`;
      await load();
    });

    // A fill or an order on one account: refresh that account's balance.
    const refresh = (accountId) => {
      const account = accounts.find((a) => a.id === accountId);
      if (account) loadFunds(account);
    };
    live.on('trade_executed', ({ trade }) => refresh(trade && trade.account_id));
    live.on('order_update', ({ order }) => refresh(order && order.account_id));
    live.on('reconnect', () => load().catch(() => {}));

    await load().catch(failedTo('your accounts'));
  };
})();
