/* The dashboard's "Supertrend exits" card: every open position (any account's, a bot's or your own) with its
 * Supertrend exit (GET/PUT/DELETE /api/positions/{id}/supertrend-exit): what it is set to and what it saw last, and a
 * compact form to set, change or remove it. Runs after pages.dashboard (dashboard.js); refreshed by position_update. */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.dashboard;
  const MAX = 20; // positions shown (each is one request)
  const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', '1d'];
  const STATUS = { waiting: 'waiting for a closed candle', watching: 'watching', triggered: 'flipped down: selling', closed: 'closed' };

  A.pages.dashboard = async () => {
    await base();
    const { T, h, GET, DEL, api, live, debounce, number, money } = A;
    const card = T('supertrend-card');

    function describe(st, ccy) {
      if (!st) return 'Off';
      const trend = st.trend ? ` · trend ${st.trend}${st.line === null ? '' : ` (line ${money(st.line, ccy)})`}` : '';
      return `period ${st.period}, multiplier ${st.multiplier}, ${st.timeframe} candles · ${STATUS[st.status] || st.status}${trend}${st.last_error ? ` · ${st.last_error}` : ''}`;
    }

    function row(p, st) {
      const ccy = p.symbol && p.symbol.includes('/') ? p.symbol.split('/')[1] : undefined;
      const error = h('p', { class: 'field-error', testid: 'supertrend-row-error' });
      const period = h('input', { type: 'number', min: '2', max: '98', step: '1', name: 'period', value: String(st ? st.period : 10), 'aria-label': 'ATR period', testid: 'supertrend-row-period' });
      const mult = h('input', { type: 'number', min: '0.1', max: '20', step: 'any', name: 'multiplier', value: String(st ? st.multiplier : 3), 'aria-label': 'Multiplier', testid: 'supertrend-row-multiplier' });
      const tf = h('select', { name: 'timeframe', 'aria-label': 'Candles', testid: 'supertrend-row-timeframe' },
        ...TIMEFRAMES.map((t) => h('option', { value: t }, t)));
      tf.value = st ? st.timeframe : '1h';
      const path = `positions/${encodeURIComponent(p.id)}/supertrend-exit`;
      const run = async (btn, fn) => {
        error.textContent = '';
        btn.disabled = true;
        try { await fn(); await load(); } catch (err) {
          const details = err.details ? Object.entries(err.details).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ') : '';
          error.textContent = details || err.message;
        } finally { btn.disabled = false; }
      };
      const num = (v) => (v === '' ? null : Number(v));
      const save = h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'supertrend-row-save' }, st ? 'Save' : 'Set');
      save.addEventListener('click', () => run(save, () => api('PUT', path, { period: num(period.value), multiplier: num(mult.value), timeframe: tf.value })));
      const remove = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'supertrend-row-remove' }, 'Remove');
      remove.hidden = !st;
      remove.addEventListener('click', () => run(remove, () => DEL(path)));
      return h('tr', { testid: 'supertrend-row', dataset: { id: p.id } },
        h('td', { 'data-label': 'Position' }, h('span', {}, h('b', {}, p.symbol),
          h('span', { class: 'sub' }, `${p.exchange} · ${number(p.amount, 0, 8)} · ${p.bot_id ? (p.bot_name || 'bot') : 'manual'}`))),
        h('td', { 'data-label': 'Supertrend exit', testid: 'supertrend-row-state' }, describe(st, ccy)),
        h('td', { 'data-label': 'Set' }, h('span', { class: 'st-controls' }, period, mult, tf, save, remove), error));
    }

    async function load() {
      const positions = ((await GET('positions')).positions || []).slice(0, MAX);
      card.hidden = positions.length === 0;
      const exits = await Promise.all(positions.map((p) => GET(`positions/${encodeURIComponent(p.id)}/supertrend-exit`)
        .then((r) => r.supertrend_exit).catch(() => null)));
      T('supertrend-list').replaceChildren(...positions.map((p, i) => row(p, exits[i])));
    }

    const refresh = debounce(() => load().catch(() => {}), 400);
    live.on('position_update', refresh);
    live.on('trade_executed', refresh);
    await load().catch(A.failedTo('your Supertrend exits'));
  };
})();
