/* A bot's page (/bots/<id>): its status and numbers, why it is (not) trading (the engine's last decision and reason,
 * paused, backing off after failures), last signal and error, parameters, equity curve and round trips. Reads
 * GET /api/bots/{id}, /api/bots/{id}/equity and /api/bots/{id}/round-trips; kept current by the feed (bot_update,
 * trade_executed, pnl_update) and, for the decision the engine takes every tick without an event, a quiet refresh. */
(() => {
  'use strict';

  const A = window.amarktai;
  const { T, h, GET, POST, act, money, signedMoney, pct, number, when, live, debounce, pageError, failedTo } = A;
  const LIMIT = 20;
  const REFRESH_MS = 15000;

  const DECISIONS = {
    traded_buy: 'Bought',
    traded_sell: 'Sold',
    no_signal: 'No signal',
    position_open: 'Position already open',
    no_position_to_sell: 'No position to sell',
    below_min_size: 'Below the minimum order size',
    already_placed: 'Order already placed',
    orders_placed: 'Placed orders',
    orders_in_place: 'Orders in place',
  };
  const ORDER_STATES = { open: 'Resting', closed: 'Filled', canceled: 'Cancelled', rejected: 'Rejected', pending: 'Not placed yet', waiting: 'To be placed', empty: 'Empty' };
  const DCA_STATES = { waiting: 'No deal yet', buying: 'Base order working', open: 'Deal open', cooldown: 'Deal closed, cooling down' };
  const GRID_STATES = { waiting: 'Not started', buying: 'Buying its coins', in_range: 'In range', ended_keep: 'Ended at range exit (coins kept)', ended_stop: 'Ended at range exit (coins sold)' };
  const STATES = {
    stopped: 'Stopped', paused: 'Paused', backing_off: 'Backing off after failures', waiting: 'Waiting for its first tick',
  };
  const PARAM_LABELS = {
    position_pct: 'Position size (share of capital)', stop_loss_pct: 'Stop loss', take_profit_pct: 'Take profit',
  };

  A.pages.bot_detail = async () => {
    const id = location.pathname.split('/').filter(Boolean)[1];
    let bot = null;
    let offset = 0;
    // The owner's view; an admin who opens another user's bot (from the admin console) reads it through the admin API.
    let base = `bots/${encodeURIComponent(id)}`;
    let asAdmin = false;

    const fact = (label, value, testid) => [h('dt', {}, label), h('dd', { testid }, value)];

    function renderBot(b) {
      bot = b;
      const ccy = A.quoteOf(b.symbol);
      document.title = `${b.name} · Amarktai`;
      T('bot-name').textContent = b.name;
      T('bot-market').textContent = `${b.exchange} · ${b.symbol}`;
      T('bot-status').replaceChildren(A.badge(b.status, b.status, 'bot-status-badge'), ' ', A.badge(b.trading_mode || 'paper'));
      T('bot-detail').dataset.status = b.status;
      T('bot-trades-link').href = `/trades?bot=${encodeURIComponent(b.id)}`;
      T('bot-trades-link').hidden = asAdmin; // the trades page lists the signed-in user's own trades
      const actions = T('bot-actions');
      const err = T('bot-action-error');
      const running = b.status === 'active' || b.status === 'created';
      const canAct = b.status !== 'stopped' && (!asAdmin || running); // admins may pause, only owners resume
      actions.replaceChildren(!canAct ? '' : h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', testid: running ? 'bot-pause' : 'bot-resume',
        onclick: (ev) => act(ev.currentTarget, err, async () => {
          await POST(asAdmin ? `admin/bot/${b.id}/pause` : `bots/${b.id}/${running ? 'pause' : 'resume'}`);
          await loadBot();
        }),
      }, running ? 'Pause' : 'Resume'));
      const owner = T('bot-owner');
      owner.hidden = !asAdmin;
      owner.textContent = asAdmin ? `Another user's bot (${b.user_email || b.user_id}), shown to you as an administrator.` : '';
      T('bot-facts').replaceChildren(
        ...fact('Capital', money(b.current_capital, ccy), 'bot-capital'),
        ...fact('Started with', money(b.initial_capital, ccy)),
        ...fact('Profit', h('span', { class: A.cls(b.total_profit) }, `${signedMoney(b.total_profit, ccy)} (${pct(b.profit_percentage)})`), 'bot-profit'),
        ...fact('Risk', String(b.risk_mode || '—')),
        ...fact('Created', when(b.created_at)),
      );
      const activity = b.activity || { state: 'waiting', message: '' };
      const trading = activity.state === 'traded_buy' || activity.state === 'traded_sell';
      T('bot-why-title').textContent = trading ? 'What is it doing?' : "Why isn't it trading?";
      const answer = T('bot-activity');
      answer.dataset.state = activity.state;
      answer.replaceChildren(h('b', { testid: 'bot-activity-state' }, STATES[activity.state] || DECISIONS[activity.state] || activity.state),
        activity.message ? ` · ${activity.message}` : '');
      T('bot-activity-at').textContent = activity.at ? `as of ${when(activity.at)}` : '';
      T('bot-last-decision').textContent = b.last_decision
        ? `${DECISIONS[b.last_decision] || b.last_decision}${b.last_decision_reason ? `: ${b.last_decision_reason}` : ''} (${when(b.last_decision_at)})` : '—';
      const s = b.last_signal;
      T('bot-last-signal').textContent = s
        ? `${s.side === 'buy' ? 'Buy' : 'Sell'} at ${money(s.price, ccy)} — ${s.reason || 'no reason given'} (confidence ${number(s.confidence, 0, 2)}, ${when(s.at)})` : 'None yet';
      const lastError = T('bot-last-error');
      lastError.textContent = b.last_error || 'None';
      lastError.className = b.last_error ? 'down' : '';
      T('bot-last-tick').textContent = b.last_tick_at ? `${when(b.last_tick_at)}${b.failure_count ? ` · ${b.failure_count} failed in a row` : ''}` : 'Not yet';
      T('bot-strategy').textContent = String(b.strategy || '').replace(/_/g, ' ');
      const own = b.params || {};
      const params = Object.entries(b.effective_params || own);
      const isPct = (k) => k.endsWith('_pct');
      T('bot-params').replaceChildren(...params.flatMap(([k, v]) => fact(PARAM_LABELS[k] || k.replace(/_/g, ' '),
        h('span', {}, typeof v === 'boolean' ? (v ? 'yes' : 'no') : typeof v === 'string' ? v.replace(/_/g, ' ')
          : isPct(k) ? pct(Number(v) * 100) : number(v, 0, 8),
          h('span', { class: 'muted small' }, k in own ? ' (set)' : ' (default)')), 'bot-param')));
      T('bot-detail').hidden = false;
    }

    /** DCA: the deal, its average and triggers, the safety-order ladder. Grid: the range, profit, every level. */
    function renderManaged(b) {
      const m = b.managed;
      T('bot-managed').hidden = !m;
      if (!m) return;
      const ccy = A.quoteOf(b.symbol);
      const px = (v) => (v == null ? '—' : money(v, ccy));
      const status = (s) => A.badge(ORDER_STATES[s] || s, s === 'closed' ? 'active' : s === 'open' ? 'created' : 'paused');
      const isDca = m.kind === 'dca';
      T('bot-managed-title').textContent = isDca ? (m.deal ? `DCA deal ${m.deal}` : 'DCA') : `Grid${m.run > 1 ? ` (range ${m.run})` : ''}`;
      T('bot-managed-state').textContent = isDca ? (DCA_STATES[m.status] || m.status) + (m.close_reason ? ` · closed by ${m.close_reason}` : '')
        : (GRID_STATES[m.range_state] || m.range_state);
      T('bot-managed-facts').replaceChildren(...(isDca ? [
        ...fact('Average price', px(m.average_price), 'dca-average'),
        ...fact('Safety orders filled', `${m.filled_safety_orders ?? 0} of ${m.max_safety_orders}`, 'dca-filled'),
        ...fact('Next safety order at', px(m.next_safety_price), 'dca-next'),
        ...fact('Take profit at', px(m.take_profit_price), 'dca-tp'),
        ...fact('Stop loss at', m.stop_loss_price == null ? 'None' : px(m.stop_loss_price), 'dca-sl'),
      ] : [
        ...fact('Range', m.lower_price == null ? '—' : `${px(m.lower_price)} – ${px(m.upper_price)}`, 'grid-range'),
        ...fact('Per grid', m.per_grid_amount == null ? '—' : `${number(m.per_grid_amount, 0, 8)} ${String(b.symbol).split('/')[0]}`),
        ...fact('Completed grids', number(m.completed_grids), 'grid-completed'),
        ...fact('Grid profit', h('span', { class: A.cls(m.grid_profit) }, signedMoney(m.grid_profit, ccy)), 'grid-profit'),
      ]));
      T('dca-ladder-wrap').hidden = !isDca;
      T('grid-levels-wrap').hidden = isDca;
      if (isDca) {
        T('dca-ladder').replaceChildren(...(m.ladder || []).map((r) => h('tr', { testid: 'dca-step', dataset: { status: r.status } },
          h('td', { 'data-label': 'Order' }, r.step === 'base' ? 'Base order' : r.step.replace('safety', 'Safety order')),
          h('td', { class: 'r', 'data-label': 'Trigger price' }, px(r.trigger_price)),
          h('td', { class: 'r', 'data-label': 'Size' }, px(r.quote)),
          h('td', { class: 'r', 'data-label': 'Amount' }, r.amount == null ? '—' : number(r.amount, 0, 8)),
          h('td', { 'data-label': 'Status' }, status(r.status)),
          h('td', { class: 'r', 'data-label': 'Fill price' }, px(r.fill_price)))));
      } else {
        T('grid-levels').replaceChildren(...(m.levels || []).map((r) => h('tr', { testid: 'grid-level', dataset: { side: r.side || '', status: r.status } },
          h('td', { 'data-label': 'Level' }, String(r.level)),
          h('td', { class: 'r', 'data-label': 'Price' }, px(r.price)),
          h('td', { 'data-label': 'Order', class: r.side === 'buy' ? 'up' : r.side === 'sell' ? 'down' : 'muted' }, r.side ? (r.side === 'buy' ? 'Buy' : 'Sell') : '—'),
          h('td', { 'data-label': 'Status' }, status(r.status)))));
      }
    }

    async function loadBot() {
      const b = (await GET(base)).bot;
      renderBot(b);
      renderManaged(b);
    }

    async function loadEquity() {
      const data = await GET(`${base}/equity`);
      const points = (data.points || []).map((p) => ({ t: new Date(p.timestamp), v: Number(p.profit) }));
      A.drawPnlChart(T('bot-equity'), points, A.quoteOf(bot && bot.symbol));
      T('bot-equity-caption').textContent = `${money(data.current_capital, A.quoteOf(bot && bot.symbol))} now, from ${money(data.initial_capital, A.quoteOf(bot && bot.symbol))}`;
    }

    async function loadTrips() {
      const data = await GET(`${base}/round-trips?limit=${LIMIT}&offset=${offset}`);
      const trips = data.round_trips || [];
      const total = data.total ?? trips.length;
      T('round-trips').replaceChildren(...trips.map((r) => A.roundTripRow(r)));
      T('round-trips-empty').hidden = trips.length > 0;
      T('round-trips-range').textContent = total ? `${number(offset + 1)}–${number(offset + trips.length)} of ${number(total)}` : '';
      T('round-trips-prev').disabled = offset === 0;
      T('round-trips-next').disabled = offset + LIMIT >= total;
    }

    try {
      await loadBot();
    } catch (err) {
      if (err.status !== 404 || !(A.session.user || {}).is_admin) {
        pageError(err.status === 404 ? new Error('This bot does not exist, or it is not yours.') : err);
        return;
      }
      base = `admin/bot/${encodeURIComponent(id)}`;
      asAdmin = true;
      try { await loadBot(); } catch (e) { pageError(e.status === 404 ? new Error('This bot does not exist.') : e); return; }
    }
    await Promise.all([loadEquity().catch(failedTo('the equity curve')), loadTrips().catch(failedTo('the round trips'))]);
    T('round-trips-prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); loadTrips().catch(pageError); });
    T('round-trips-next').addEventListener('click', () => { offset += LIMIT; loadTrips().catch(pageError); });

    const refreshBot = debounce(() => loadBot().catch(() => {}), 300);
    const refreshTrades = debounce(() => {
      loadEquity().catch(() => {});
      if (offset === 0) loadTrips().catch(() => {});
    }, 400);
    live.on('bot_update', (m) => { if (m.bot_id === id) refreshBot(); }); // the "why" needs the detail (activity)
    live.on('trade_executed', ({ trade }) => { // admins receive every user's events
      if (!trade || trade.bot_id !== id) return;
      refreshBot();
      refreshTrades();
    });
    live.on('pnl_update', (m) => { if (m.bot_id === id) refreshBot(); });
    live.on('order_update', ({ order }) => { if (order && order.bot_id === id) refreshBot(); }); // DCA / grid orders
    live.on('reconnect', () => { refreshBot(); refreshTrades(); });
    // The engine decides every tick without publishing an event: look again now and then while the page is seen.
    setInterval(() => { if (document.visibilityState === 'visible') refreshBot(); }, REFRESH_MS);
  };
})();
