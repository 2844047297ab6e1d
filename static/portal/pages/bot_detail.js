/* A bot's page (/bots/<id>): its status and numbers, why it is (not) trading (the engine's last decision and reason,
 * paused, backing off after failures), last signal and error, its open position's exits (plan and live state: the
 * trailing stop following the price, targets filled; a form to change them: PUT /api/positions/{id}/exits), the
 * protections in force, parameters, equity curve, round trips and history. Reads GET /api/bots/{id},
 * /api/bots/{id}/equity, /api/bots/{id}/round-trips and /api/bots/{id}/history; kept current by the feed (bot_update,
 * trade_executed, pnl_update) and, for the decision the engine takes every tick without an event, a quiet refresh.
 * A live price chart of its market (amarktai.priceChart: /api/market/ohlcv + market_update) marks its round trips. */
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
    risk_limit: 'Risk limit reached',
    protection: 'Blocked by a protection',
    exit: 'Exit fired',
    orders_placed: 'Placed orders',
    orders_in_place: 'Orders in place',
    market_closed: 'Market closed',
  };
  const ORDER_STATES = { open: 'Resting', closed: 'Filled', canceled: 'Cancelled', rejected: 'Rejected', pending: 'Not placed yet', waiting: 'To be placed', empty: 'Empty' };
  const DCA_STATES = { waiting: 'No deal yet', buying: 'Base order working', open: 'Deal open', cooldown: 'Deal closed, cooling down' };
  const GRID_STATES = { waiting: 'Not started', buying: 'Buying its coins', in_range: 'In range', ended_keep: 'Ended at range exit (coins kept)', ended_stop: 'Ended at range exit (coins sold)' };
  const EXIT_KINDS = {
    take_profit: 'Take profit', trailing_take_profit: 'Trailing take profit', trailing_stop: 'Trailing stop',
    breakeven_stop: 'Breakeven stop', time_stop: 'Time stop', stop_loss: 'Stop loss',
  };
  const PROTECTIONS = {
    sl_guard_count: 'Stop-loss guard (stops in the window)', sl_guard_window_minutes: 'Stop-loss guard window (min)',
    max_drawdown_pct: 'Max drawdown pause (%)', cooldown_minutes: 'Cooldown after exit (min)',
    pair_lock_trips: 'Pair lock: round trips judged', pair_lock_min_profit_pct: 'Pair lock: below profit (%)',
    pair_lock_minutes: 'Pair lock: for (min)',
  };
  const HISTORY = { exit: 'Exit', protection: 'Protection', exit_plan: 'Exit plan changed' };
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
    let chart = null; // the live price chart (set once the bot is known)
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
      renderExits(b);
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

    // --- exits (the open position's plan and its live state) and protections ---------------------------------
    let exitsFormFor = null;
    const orNull = (v) => (v === '' || v === undefined ? null : Number(v));

    function fillExitsForm(plan) {
      const f = T('bot-exits-form');
      const t = plan.targets || [];
      const set = (name, v) => { f.elements[name].value = v === null || v === undefined ? '' : String(v); };
      set('trailing_stop', plan.trailing_stop && plan.trailing_stop.distance_pct);
      set('time_stop_minutes', plan.time_stop_minutes);
      set('ttp_activate', plan.trailing_take_profit && plan.trailing_take_profit.activate_at_pct);
      set('ttp_callback', plan.trailing_take_profit && plan.trailing_take_profit.callback_pct);
      set('tp1_at', t[0] && t[0].at_profit_pct); set('tp1_size', t[0] && t[0].pct_of_position);
      set('tp2_at', t[1] && t[1].at_profit_pct); set('tp2_size', t[1] && t[1].pct_of_position);
      f.elements.breakeven.checked = Boolean(plan.breakeven_after_first_target);
    }

    function renderExits(b) {
      const ex = b.exits;
      const ccy = A.quoteOf(b.symbol);
      T('bot-exits-empty').hidden = Boolean(ex) || asAdmin;
      T('bot-exits-live').hidden = !ex;
      T('bot-exits-execution').textContent = ex ? `Run by the engine on every tick (${ex.execution})` : '';
      if (ex) {
        const st = ex.state;
        const plan = ex.plan;
        T('bot-exits-state').replaceChildren(
          ...fact('Position', `${number(ex.amount, 0, 8)} of ${number(st.initial_amount, 0, 8)} at ${money(ex.entry_price, ccy)}`, 'bot-exits-position'),
          ...fact('High since entry', st.highest_price === null ? '—' : money(st.highest_price, ccy), 'bot-exits-high'),
          ...fact(plan.breakeven_after_first_target && (st.targets_filled || []).length ? 'Stop (trailing / breakeven)' : 'Trailing stop',
            st.trailing_stop_price === null ? 'Off' : money(st.trailing_stop_price, ccy), 'bot-exits-trailing-stop'),
          ...fact('Trailing take profit', plan.trailing_take_profit
            ? `arms at +${plan.trailing_take_profit.activate_at_pct}%, sells ${plan.trailing_take_profit.callback_pct}% off the high · ${st.trailing_take_profit_armed ? 'armed' : 'not armed yet'}`
            : 'Off', 'bot-exits-ttp'),
          ...fact('Time stop', plan.time_stop_minutes ? `${plan.time_stop_minutes} min after entry` : 'Off', 'bot-exits-time'),
          ...fact('Fixed stop loss', ex.stop_loss === null ? 'None' : money(ex.stop_loss, ccy)),
          ...fact('Fixed take profit', ex.take_profit === null ? (plan.targets.length || plan.trailing_take_profit ? 'Replaced by the plan' : 'None') : money(ex.take_profit, ccy)),
        );
        const filled = new Set(st.targets_filled || []);
        T('bot-exits-targets').replaceChildren(...(plan.targets.length ? plan.targets.map((t, i) => h('tr', { testid: 'bot-exits-target' },
          h('td', { 'data-label': 'Target' }, `#${i + 1}`),
          h('td', { class: 'r', 'data-label': 'At profit' }, `+${t.at_profit_pct}%`),
          h('td', { class: 'r', 'data-label': 'Sells' }, `${t.pct_of_position}%`),
          h('td', { 'data-label': 'Status' }, A.badge(filled.has(i) ? 'filled' : 'waiting', filled.has(i) ? 'closed' : 'open')),
        )) : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No take-profit targets'))]));
        T('bot-exits-form').hidden = asAdmin;
        if (exitsFormFor !== ex.position_id) { // fill once per position: a refresh never overwrites what is typed
          exitsFormFor = ex.position_id;
          fillExitsForm(plan);
        }
      }
      T('bot-exits-card').hidden = !('exits' in b); // the admin view of another user's bot has neither
      T('bot-protections-card').hidden = !b.protections;
      const pr = b.protections || { settings: {}, per_user: [], blocking: null };
      const blocking = T('bot-protections-blocking');
      blocking.textContent = pr.blocking ? `New entries blocked: ${pr.blocking.reason}` : 'No protection is blocking new entries.';
      blocking.className = pr.blocking ? 'why-answer down' : 'why-answer';
      const perUser = new Set(pr.per_user || []);
      const isOn = (k, v) => (k === 'sl_guard_window_minutes' ? Number(pr.settings.sl_guard_count) > 0
        : k.startsWith('pair_lock_') && k !== 'pair_lock_trips' ? Number(pr.settings.pair_lock_trips) > 0 : Number(v) !== 0);
      const rows = Object.entries(PROTECTIONS).filter(([k]) => isOn(k, pr.settings[k]));
      T('bot-protections').replaceChildren(...(rows.length ? rows.flatMap(([k, label]) => fact(label,
        h('span', {}, String(pr.settings[k]), h('span', { class: 'muted small' }, perUser.has(k) ? ' (yours, every bot)' : ' (this bot)')), 'bot-protection'))
        : fact('Protections', 'None set', 'bot-protection-none')));
    }

    function exitsBody(d) {
      const body = {
        trailing_stop: d.trailing_stop ? { distance_pct: Number(d.trailing_stop) } : null,
        time_stop_minutes: orNull(d.time_stop_minutes),
        trailing_take_profit: d.ttp_activate !== '' || d.ttp_callback !== ''
          ? { activate_at_pct: orNull(d.ttp_activate), callback_pct: orNull(d.ttp_callback) } : null,
        targets: [],
        breakeven_after_first_target: T('bot-exits-form').elements.breakeven.checked,
      };
      for (const n of [1, 2]) {
        if (d[`tp${n}_at`] !== '' || d[`tp${n}_size`] !== '') body.targets.push({ at_profit_pct: orNull(d[`tp${n}_at`]), pct_of_position: orNull(d[`tp${n}_size`]) });
      }
      return body;
    }

    // The API's field errors name the plan's fields (nested for the parts); put them next to this form's inputs.
    function formErrors(err) {
      const flat = (v) => (Array.isArray(v) ? v.map(flat).join(' ') : v && typeof v === 'object' ? Object.values(v).map(flat).join(' ') : String(v));
      const map = { trailing_stop: 'trailing_stop', time_stop_minutes: 'time_stop_minutes', trailing_take_profit: 'ttp_callback', targets: 'tp1_at', breakeven_after_first_target: 'breakeven' };
      const details = {};
      for (const [k, v] of Object.entries(err.details || {})) details[map[k] || k] = [flat(v)];
      return Object.assign(err, { details });
    }

    async function loadHistory() {
      const data = await GET(`bots/${encodeURIComponent(id)}/history?limit=${LIMIT}&offset=${historyOffset}`);
      const rows = data.events || [];
      T('bot-history').replaceChildren(...rows.map((e) => h('tr', { testid: 'bot-history-row' },
        h('td', { 'data-label': 'When' }, when(e.created_at)),
        h('td', { 'data-label': 'Kind' }, A.badge(HISTORY[e.kind] || e.kind, e.kind === 'protection' ? 'paused' : 'active')),
        h('td', { 'data-label': 'What' }, `${EXIT_KINDS[e.name] ? `${EXIT_KINDS[e.name]}: ` : ''}${e.message}`),
      )));
      T('bot-history-empty').hidden = rows.length > 0;
      T('bot-history-range').textContent = data.total ? `${number(historyOffset + 1)}–${number(historyOffset + rows.length)} of ${number(data.total)}` : '';
      T('bot-history-prev').disabled = historyOffset === 0;
      T('bot-history-next').disabled = historyOffset + LIMIT >= data.total;
    }
    let historyOffset = 0;

    let seenDecision = null;
    async function loadBot() {
      const b = (await GET(base)).bot;
      renderBot(b);
      renderManaged(b);
      // An exit or a protection is a new line in the history: show it with the decision (also without a feed event).
      const decided = `${b.last_decision}|${b.last_decision_at}`;
      if (seenDecision !== null && decided !== seenDecision && ['exit', 'protection'].includes(b.last_decision)
        && !asAdmin && historyOffset === 0) loadHistory().catch(() => {});
      seenDecision = decided;
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
      if (offset === 0 && chart) chart.setTrades(A.roundTripTrades(trips)); // the newest trips: the chart's period
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
    // The live price chart of its market (static/portal/chart.js), its round trips marked on it.
    chart = A.priceChart(T('bot-price-chart'), { exchange: bot.exchange, symbol: bot.symbol, timeframe: bot.timeframe, testid: 'bot-chart' });
    await Promise.all([loadEquity().catch(failedTo('the equity curve')), loadTrips().catch(failedTo('the round trips')),
      asAdmin ? null : loadHistory().catch(failedTo('the history'))]);
    T('bot-history-card').hidden = asAdmin; // the history endpoint is the owner's
    T('bot-history-prev').addEventListener('click', () => { historyOffset = Math.max(0, historyOffset - LIMIT); loadHistory().catch(pageError); });
    T('bot-history-next').addEventListener('click', () => { historyOffset += LIMIT; loadHistory().catch(pageError); });
    A.onSubmit(T('bot-exits-form'), async (data) => {
      if (!bot || !bot.exits) return;
      try {
        await A.api('PUT', `positions/${encodeURIComponent(bot.exits.position_id)}/exits`, exitsBody(data));
      } catch (err) {
        throw err.details ? formErrors(err) : err;
      }
      T('bot-exits-ok').textContent = 'Saved. The engine applies it on the next tick.';
      exitsFormFor = null;
      await loadBot();
      if (historyOffset === 0) loadHistory().catch(() => {});
    });
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
    live.on('position_update', (m) => { if (m.position && m.position.bot_id === id) { refreshBot(); if (!asAdmin && historyOffset === 0) loadHistory().catch(() => {}); } });
    live.on('alert', (m) => { if (m.bot_id === id && m.kind === 'protection') { refreshBot(); if (!asAdmin && historyOffset === 0) loadHistory().catch(() => {}); } });
    live.on('reconnect', () => { refreshBot(); refreshTrades(); });
    // The engine decides every tick without publishing an event: look again now and then while the page is seen.
    setInterval(() => { if (document.visibilityState === 'visible') refreshBot(); }, REFRESH_MS);
  };
})();
