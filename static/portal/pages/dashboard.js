/* Dashboard: capital and realised / unrealised / total P&L in the user's base currency (converted by the server, which
 * says the currency and the rates it used), open positions at current prices, the P&L curve, bots and recent trades.
 *
 * Live: trades, bot changes, pnl_update (scope "account") and overview_update arrive over /api/ws; open positions and
 * their unrealised P&L are re-read every POSITIONS_EVERY_MS while the page is visible, so they follow the prices.
 * Admins receive every user's events: for them a figure event only triggers a re-read of their own metrics.
 * The price chart (amarktai.priceChart, static/portal/chart.js) shows one of the user's bots' markets, live, with the
 * user's trades on that market marked.
 */
(() => {
  'use strict';

  const POSITIONS_EVERY_MS = 5000;
  const a = window.amarktai;
  const { GET, T, h, $, money, number, signedMoney, pct, debounce, failedTo, tradeRow, drawPnlChart, live, session } = a;
  const cls = (n) => (Number(n) > 0 ? 'up' : Number(n) < 0 ? 'down' : '');
  const quoteOf = (symbol) => (symbol && symbol.includes('/') ? symbol.split('/')[1] : undefined);
  const badge = (text, kind, testid) => h('span', { class: `badge badge-${kind || text}`, testid }, String(text || '').replace(/_/g, ' '));
  const SOURCES = { simulated: 'the simulated feed', live: 'live exchange prices' };

  function age(seconds) {
    const s = Math.max(0, Number(seconds) || 0);
    if (s < 60) return `${Math.floor(s)}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  a.pages.dashboard = async () => {
    const user = session.user || {};
    T('greeting').textContent = `Welcome back${user.first_name ? `, ${user.first_name}` : ''}.`;
    const myBots = new Map();
    const shown = new Set();
    const state = { currency: user.currency || 'ZAR', rates: {}, realised: null, unrealised: null, source: null, block: null };
    let series = [];

    // -- figures -------------------------------------------------------------------------------------------------
    function setMoney(testid, value, signed) {
      const el = T(testid);
      el.textContent = value === null || value === undefined ? '—' : (signed ? signedMoney(value, state.currency) : money(value, state.currency));
      el.className = `stat-value num ${signed ? cls(value) : ''}`;
      el.dataset.value = value === null || value === undefined ? '' : String(value);
      el.dataset.currency = state.currency;
    }
    function showPnl() {
      setMoney('metric-realised', state.realised, true);
      setMoney('metric-unrealised', state.unrealised, true);
      const total = state.realised === null || state.unrealised === null ? null
        : Math.round((Number(state.realised) + Number(state.unrealised)) * 100) / 100;
      setMoney('metric-total-pnl', total, true);
    }
    function showValuation(v) {
      const rates = Object.entries(v.rates || {}).filter(([c]) => c !== state.currency);
      const parts = rates.map(([c, r]) => `1 ${c} = ${money(r, state.currency)}`);
      T('valuation-note').textContent = `All totals in ${state.currency}${parts.length ? `, converted at current rates: ${parts.join(' · ')}` : ''}`
        + `${state.source ? ` (${SOURCES[state.source] || state.source})` : ''}. Change the currency in Settings.`;
      const unpriced = Object.entries(v.unpriced || {});
      const box = T('valuation-unpriced');
      box.hidden = !unpriced.length;
      box.textContent = unpriced.length ? `Not included in the totals (no price available): ${unpriced.map(([c, figs]) => {
        const amount = Object.values(figs)[0];
        return `${number(amount, 2, 8)} ${c} (${Object.keys(figs).join(', ').replace(/_/g, ' ')})`;
      }).join('; ')}` : '';
    }
    function showBreakdown(v) {
      const rows = Object.entries(v.breakdown || {});
      const unpriced = v.unpriced || {};
      T('breakdown-list').replaceChildren(...rows.map(([c, f]) => h('tr', { testid: 'breakdown-row', dataset: { currency: c } },
        h('td', { 'data-label': 'Currency' }, c),
        h('td', { class: 'r', 'data-label': 'Rate' }, unpriced[c] ? 'no price' : (v.rates || {})[c] !== undefined ? money(v.rates[c], state.currency) : '—'),
        h('td', { class: 'r', 'data-label': 'Capital' }, money(f.total_capital || 0, c)),
        h('td', { class: `r ${cls(f.realised_pnl)}`, 'data-label': 'Realised P&L' }, signedMoney(f.realised_pnl || 0, c)),
        h('td', { class: `r ${cls(f.unrealised_pnl)}`, 'data-label': 'Unrealised P&L' }, signedMoney(f.unrealised_pnl || 0, c)))));
      T('breakdown-empty').hidden = rows.length > 0;
    }
    /** Figures from GET /api/metrics, an overview_update or an account pnl_update (only the keys present). */
    function applyFigures(m) {
      if (m.currency) state.currency = m.currency;
      if (m.rate_source) state.source = m.rate_source;
      if (m.rates) state.rates = m.rates;
      if (m.total_capital !== undefined) setMoney('metric-capital', m.total_capital, false);
      if (m.realised_pnl !== undefined) state.realised = m.realised_pnl;
      else if (m.total_profit !== undefined) state.realised = m.total_profit;
      if (m.unrealised_pnl !== undefined) state.unrealised = m.unrealised_pnl;
      showPnl();
      if (m.daily_pnl !== undefined) T('metric-daily').textContent = `Today: ${signedMoney(m.daily_pnl, state.currency)} realised`;
      if (m.win_rate !== undefined) T('metric-winrate').textContent = pct(m.win_rate);
      if (m.active_bots !== undefined) T('metric-active-bots').textContent = `${m.active_bots ?? 0} / ${m.total_bots ?? 0}`;
      if (m.rates) { state.block = m; showValuation(m); showBreakdown(m); }
    }
    async function loadMetrics() {
      applyFigures((await GET('metrics')).metrics || {});
      redraw();
    }

    // -- open positions ------------------------------------------------------------------------------------------
    function positionRow(p) {
      const ccy = p.currency || quoteOf(p.symbol);
      const pnl = p.unrealised_pnl;
      return h('tr', { testid: 'position-row', dataset: { id: p.id, symbol: p.symbol } },
        h('td', { 'data-label': 'Pair' }, h('span', {}, h('b', {}, p.symbol),
          h('span', { class: 'sub' }, `${p.exchange} · ${number(p.amount, 0, 8)}`, ' ', badge(p.trading_mode || 'paper')))),
        h('td', { 'data-label': 'Bot', testid: 'position-bot' }, p.bot_id ? a.botLink(p.bot_id, p.bot_name, 'position-bot-link') : 'Manual'),
        h('td', { class: 'r', 'data-label': 'Entry' }, money(p.entry_price, ccy)),
        h('td', { class: 'r', 'data-label': 'Current', testid: 'position-price' }, p.current_price === null ? 'no price' : money(p.current_price, ccy)),
        h('td', { class: `r ${cls(pnl)}`, 'data-label': 'Unrealised P&L', testid: 'position-pnl' }, h('span', {},
          pnl === null ? 'no price' : signedMoney(pnl, ccy), pnl === null ? null : h('span', { class: 'sub' }, pct(p.unrealised_pnl_pct)))),
        h('td', { class: 'r', 'data-label': 'Stop-loss' }, p.stop_loss === null ? '—' : money(p.stop_loss, ccy)),
        h('td', { class: 'r', 'data-label': 'Take-profit' }, p.take_profit === null ? '—' : money(p.take_profit, ccy)),
        h('td', { class: 'r', 'data-label': 'Age', testid: 'position-age' }, age(p.age_seconds)));
    }
    async function loadPositions() {
      const data = await GET('positions');
      const list = data.positions || [];
      T('positions-list').replaceChildren(...list.map(positionRow));
      T('positions-empty').hidden = list.length > 0;
      const noPrice = data.no_price ? ` · ${data.no_price} without a price (not counted)` : '';
      T('positions-caption').textContent = list.length ? `${list.length} open · updated ${new Date().toLocaleTimeString()}${noPrice}` : '';
      T('metric-open-count').textContent = `${list.length} open position${list.length === 1 ? '' : 's'} at current prices`;
      if (data.currency !== state.currency || data.unrealised_pnl === undefined) return;
      state.unrealised = data.unrealised_pnl;
      showPnl();
      if (state.block) { // the per-currency unrealised P&L follows the same prices
        const breakdown = {};
        Object.entries(state.block.breakdown || {}).forEach(([c, f]) => { breakdown[c] = { ...f, unrealised_pnl: 0 }; });
        Object.entries(data.breakdown || {}).forEach(([c, f]) => { breakdown[c] = { ...(breakdown[c] || {}), unrealised_pnl: f.unrealised_pnl || 0 }; });
        state.block = { ...state.block, breakdown, rates: { ...state.block.rates, ...data.rates } };
        showBreakdown(state.block);
      }
    }

    // -- bots, trades, chart -------------------------------------------------------------------------------------
    function renderBot(b) {
      return h('li', { testid: 'dash-bot', dataset: { id: b.id } },
        h('span', {}, h('a', { class: 'name', href: `/bots/${encodeURIComponent(b.id)}`, testid: 'dash-bot-link' }, b.name), h('span', { class: 'sub' }, `${b.exchange} · ${b.strategy || ''}`)),
        h('span', {}, badge(b.status, b.status, 'dash-bot-status')));
    }
    async function loadBots() {
      const bots = (await GET('bots')).bots || [];
      myBots.clear();
      bots.forEach((b) => myBots.set(b.id, b));
      T('dash-bots').replaceChildren(...bots.slice(0, 8).map(renderBot));
      T('dash-bots-empty').hidden = bots.length > 0;
    }
    /** The curve of realised P&L, each trade's P&L (in its market's quote currency) at today's rate into the base. */
    function redraw() {
      const pts = series.length ? [{ t: new Date(series[0].timestamp || series[0].created_at), v: 0 }] : [];
      let acc = 0;
      const skipped = new Set();
      series.forEach((t) => {
        const ccy = quoteOf(t.symbol) || state.currency;
        const rate = ccy === state.currency ? 1 : state.rates[ccy];
        const pl = Number(t.profit_loss ?? t.profit ?? 0);
        if (rate === undefined) { if (pl) skipped.add(ccy); return; }
        acc += pl * rate;
        pts.push({ t: new Date(t.timestamp || t.created_at), v: Math.round(acc * 100) / 100 });
      });
      drawPnlChart(T('pnl-chart'), pts, state.currency);
      const caption = series.length ? `${number(series.length)} trade${series.length === 1 ? '' : 's'}, in ${state.currency} at current rates` : '';
      T('chart-caption').textContent = caption + (skipped.size ? ` (without ${[...skipped].join(', ')}: no price)` : '');
    }
    async function loadTrades() {
      const data = await GET('trades?limit=500&offset=0');
      const trades = data.trades || [];
      shown.clear();
      trades.forEach((t) => shown.add(t.id));
      T('recent-trades').replaceChildren(...trades.slice(0, 10).map((t) => tradeRow(t)));
      T('recent-trades-empty').hidden = trades.length > 0;
      series = trades.slice().reverse();
      redraw();
      markTrades();
    }

    // -- the live price chart of one of the bots' markets ------------------------------------------------------
    let chart = null;
    function markTrades() {
      if (!chart) return;
      const { exchange, symbol } = chart.market;
      chart.setTrades(series.filter((t) => t.exchange === exchange && t.symbol === symbol)
        .map((t) => ({ time: t.timestamp || t.created_at, side: t.side, price: t.price })));
    }
    async function setupChart() {
      const markets = [];
      const seen = new Set();
      const add = (exchange, symbol) => {
        const k = `${exchange}:${symbol}`;
        if (!exchange || !symbol || seen.has(k)) return;
        seen.add(k);
        markets.push({ exchange, symbol, key: k });
      };
      [...myBots.values()].sort((x, y) => (x.status === 'active' ? 0 : 1) - (y.status === 'active' ? 0 : 1))
        .forEach((b) => add(b.exchange, b.symbol));
      if (!markets.length) { // no bots yet: the first exchange's markets
        const first = (await a.platforms().catch(() => [])).find((p) => p.enabled !== false);
        ((first && first.symbols) || []).forEach((sym) => add(first.id, sym));
      }
      const select = T('dash-chart-picker');
      select.replaceChildren(...markets.map((m) => h('option', { value: m.key }, `${m.symbol} · ${m.exchange}`)));
      const pick = (k) => markets.find((m) => m.key === k) || markets[0];
      const m = pick(select.value);
      chart = a.priceChart(T('dash-price-chart'), { exchange: m && m.exchange, symbol: m && m.symbol, testid: 'dash-chart' });
      markTrades();
      select.addEventListener('change', () => {
        const next = pick(select.value);
        chart.setMarket(next.exchange, next.symbol).catch(() => {});
        markTrades();
      });
    }

    const refreshMetrics = debounce(() => loadMetrics().catch(() => {}), 400);
    const refreshPositions = debounce(() => loadPositions().catch(() => {}), 400);
    const refreshTrades = debounce(() => loadTrades().catch(() => {}), 400);
    await Promise.all([loadMetrics().catch(failedTo('your metrics')), loadBots().catch(failedTo('your bots')),
      loadTrades().catch(failedTo('your trades')), loadPositions().catch(failedTo('your open positions'))]);
    await setupChart().catch(failedTo('the price chart'));

    // Unrealised P&L follows the prices: re-read the positions while the page is in view.
    setInterval(() => { if (document.visibilityState === 'visible') loadPositions().catch(() => {}); }, POSITIONS_EVERY_MS);

    live.on('trade_executed', ({ trade }) => {
      if (!trade || shown.has(trade.id)) return;
      if (user.is_admin && trade.bot_id && !myBots.has(trade.bot_id)) { refreshTrades(); return; } // admins see everyone's feed
      shown.add(trade.id);
      const body = T('recent-trades');
      const row = tradeRow(trade);
      row.classList.add('flash');
      body.prepend(row);
      while (body.children.length > 10) body.lastElementChild.remove();
      T('recent-trades-empty').hidden = true;
      series.push({ ...trade, timestamp: trade.timestamp || new Date().toISOString() });
      redraw();
      markTrades();
      refreshMetrics();
      refreshPositions();
    });
    live.on('bot_update', (m) => {
      if (!myBots.has(m.bot_id)) { if (!user.is_admin) loadBots().catch(() => {}); return; }
      const li = $(`[data-testid="dash-bot"][data-id="${CSS.escape(m.bot_id)}"]`);
      if (li) $('[data-testid="dash-bot-status"]', li).replaceWith(badge(m.status, m.status, 'dash-bot-status'));
      refreshMetrics();
    });
    const figures = (m) => {
      if (user.is_admin || !m.currency) { refreshMetrics(); return; }
      applyFigures(m);
      if (m.rates) redraw();
    };
    live.on('pnl_update', (m) => { if (m.scope === 'account') { figures(m); refreshPositions(); } });
    live.on('overview_update', figures);
    live.on('reconnect', () => {
      loadMetrics().catch(() => {}); loadBots().catch(() => {}); loadTrades().catch(() => {}); loadPositions().catch(() => {});
    });
  };
})();
