/* The portal's live price chart, shared by the bot page, the dashboard and the Markets page.
 *
 * amarktai.priceChart(box, { exchange, symbol, timeframe, testid }) fills `box` with a small toolbar (the market, its
 * last price and change, a timeframe picker, the feed's state) and a candlestick chart drawn by TradingView's
 * Lightweight Charts (vendored in static/vendor/, see scripts/vendor_charts.sh; the page loads it before this file).
 *
 * - Candles: GET /api/market/ohlcv?exchange=&symbol=&timeframe=&limit= (oldest first, `time` in epoch seconds).
 * - Live: the chart subscribes its market on the portal's WebSocket (amarktai.live.subscribe, which sends
 *   {"type":"subscribe","symbols":["<exchange>:<SYMBOL>"]} and sends it again after a reconnect) and moves the last
 *   candle with every `market_update` of that market; a new period starts a new candle, and the closed one is read
 *   again from the API shortly after (its exact open/high/low/close/volume). After a reconnect the candles are re-read,
 *   which back-fills what was missed.
 * - Trades: setTrades([{ time, side: 'buy'|'sell', price, text }]) puts a marker on the candle of each trade.
 *
 * The box carries what the page and the tests read: data-state (loading | ready | empty | error), data-candles (how
 * many candles the series holds), data-last (the last price shown), data-updates (market_updates applied) and
 * data-markers (trades marked), data-feed (subscribed | refused: the server's answer to the subscription). Text goes in
 * only through textContent (amarktai.h).
 */
(() => {
  'use strict';

  const A = window.amarktai;
  const TIMEFRAMES = [['1m', 60], ['5m', 300], ['15m', 900], ['1h', 3600], ['4h', 14400], ['1d', 86400]];
  const SECONDS = Object.fromEntries(TIMEFRAMES);
  const LIMIT = 300;
  const UP = '#16a34a';
  // Lightweight Charts draws times as UTC: every time is shifted by the browser's offset, so the axis shows local time.
  // Candles are bucketed on the real (UTC) time first, then shifted, so trades and updates land on the right candle.
  const SHIFT = -new Date().getTimezoneOffset() * 60;
  const DOWN = '#dc2626';

  /** Epoch seconds from a market_update's timestamp (ISO text, epoch ms or epoch s); now when it has none. */
  function epochSeconds(ts) {
    if (typeof ts === 'number' && Number.isFinite(ts)) return ts > 1e12 ? ts / 1000 : ts;
    const ms = ts ? Date.parse(ts) : NaN;
    return Number.isNaN(ms) ? Date.now() / 1000 : ms / 1000;
  }

  /** Decimals that suit a price: 2 for big numbers, more for coins worth cents. */
  function precisionFor(price) {
    const p = Math.abs(Number(price));
    if (!p || p >= 100) return 2;
    if (p >= 1) return 4;
    return Math.min(8, Math.max(4, 2 - Math.floor(Math.log10(p)) + 2));
  }

  function priceChart(box, opts) {
    const { h, GET, live, money, number, pct } = A;
    const prefix = opts.testid || 'price-chart';
    const state = {
      exchange: opts.exchange || '', symbol: opts.symbol || '', timeframe: SECONDS[opts.timeframe] ? opts.timeframe : '1m',
      candles: [], trades: [], subscribed: null, loadSeq: 0, reloadTimer: null, updates: 0, destroyed: false,
    };
    const tf = () => SECONDS[state.timeframe];
    const key = () => `${state.exchange}:${state.symbol}`;
    const quote = () => (state.symbol.includes('/') ? state.symbol.split('/')[1] : undefined);

    const last = h('b', { class: 'num', testid: `${prefix}-last` }, '—');
    const change = h('span', { class: 'num small', testid: `${prefix}-change` });
    const status = h('span', { class: 'muted small', testid: `${prefix}-status` }, 'Loading…');
    const market = h('span', { class: 'price-chart-market', testid: `${prefix}-market` });
    const picker = h('select', { class: 'price-chart-tf', testid: `${prefix}-timeframe`, 'aria-label': 'Candle period' },
      ...TIMEFRAMES.map(([v]) => h('option', { value: v }, v)));
    picker.value = state.timeframe;
    const canvasHost = h('div', { class: 'price-chart-canvas', testid: `${prefix}-canvas` });
    const empty = h('p', { class: 'price-chart-empty muted', testid: `${prefix}-empty`, hidden: true });
    box.classList.add('price-chart');
    box.dataset.testid = box.dataset.testid || prefix;
    box.replaceChildren(
      h('div', { class: 'price-chart-bar' }, h('span', { class: 'price-chart-quote' }, market, last, change), h('span', { class: 'price-chart-tools' }, status, picker)),
      h('div', { class: 'price-chart-body' }, canvasHost, empty),
    );

    const LC = window.LightweightCharts;
    let chart = null;
    let series = null;
    let markers = null;
    if (LC) {
      chart = LC.createChart(canvasHost, {
        autoSize: true,
        layout: { attributionLogo: true, textColor: '#475569', background: { color: 'transparent' } },
        grid: { vertLines: { color: 'rgba(148,163,184,0.15)' }, horzLines: { color: 'rgba(148,163,184,0.15)' } },
        timeScale: { timeVisible: true, secondsVisible: false },
        rightPriceScale: { borderVisible: false },
        localization: { locale: 'en-ZA' },
      });
      series = chart.addSeries(LC.CandlestickSeries, {
        upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      });
      markers = LC.createSeriesMarkers(series, []);
    }

    function setState(s, text) {
      box.dataset.state = s;
      status.textContent = text;
    }
    function showLast(price, changePct) {
      if (price === null || price === undefined || Number.isNaN(Number(price))) return;
      last.textContent = Number(price) < 1 ? `${number(price, 2, 8)}${quote() ? ` ${quote()}` : ''}` : money(price, quote());
      box.dataset.last = String(Number(price));
      if (changePct !== undefined && changePct !== null && !Number.isNaN(Number(changePct))) {
        change.textContent = `${Number(changePct) > 0 ? '+' : ''}${pct(changePct)}`;
        change.className = `num small ${Number(changePct) > 0 ? 'up' : Number(changePct) < 0 ? 'down' : ''}`;
        box.dataset.change = String(Number(changePct));
      }
    }
    function showCount() { box.dataset.candles = String(state.candles.length); }

    function applyMarkers() {
      if (!markers) { box.dataset.markers = '0'; return; }
      const c = state.candles;
      if (!c.length) { markers.setMarkers([]); box.dataset.markers = '0'; return; }
      const first = c[0].time;
      const lastTime = c[c.length - 1].time;
      const step = tf();
      const list = state.trades
        .map((t) => ({ ...t, at: Math.floor(epochSeconds(t.time) / step) * step + SHIFT }))
        .filter((t) => t.at >= first && Number.isFinite(t.at))
        .map((t) => {
          const buy = t.side === 'buy';
          return {
            time: Math.min(t.at, lastTime), position: buy ? 'belowBar' : 'aboveBar', shape: buy ? 'arrowUp' : 'arrowDown',
            color: buy ? UP : DOWN, text: t.text || (buy ? 'Buy' : 'Sell'),
          };
        })
        .sort((x, y) => x.time - y.time);
      markers.setMarkers(list);
      box.dataset.markers = String(list.length);
    }

    async function load() {
      const seq = ++state.loadSeq;
      clearTimeout(state.reloadTimer);
      if (!state.exchange || !state.symbol) { setState('empty', 'No market'); return; }
      if (!state.candles.length) setState('loading', 'Loading…');
      const q = new URLSearchParams({ exchange: state.exchange, symbol: state.symbol, timeframe: state.timeframe, limit: String(LIMIT) });
      let data;
      try {
        data = await GET(`market/ohlcv?${q}`);
      } catch (err) {
        if (seq !== state.loadSeq || state.destroyed) return;
        setState('error', `No candles: ${err.message}`);
        empty.hidden = false;
        empty.textContent = `The candles could not be loaded: ${err.message}`;
        return;
      }
      if (seq !== state.loadSeq || state.destroyed) return; // a newer market or timeframe was picked meanwhile
      const seen = new Set();
      const candles = (data.candles || [])
        .map((c) => ({ time: Math.floor(Number(c.time)) + SHIFT, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) }))
        .filter((c) => Number.isFinite(c.time) && !seen.has(c.time) && seen.add(c.time))
        .sort((a, b) => a.time - b.time);
      // The API answers closed candles: the one the feed is building (same market and period) stays after them.
      const building = state.candles[state.candles.length - 1];
      if (building && (!candles.length || building.time > candles[candles.length - 1].time)) candles.push(building);
      state.candles = candles;
      if (series) {
        const lastClose = candles.length ? candles[candles.length - 1].close : null;
        const precision = precisionFor(lastClose);
        series.applyOptions({ priceFormat: { type: 'price', precision, minMove: 10 ** -precision } });
        series.setData(candles);
        chart.timeScale().fitContent();
      }
      showCount();
      applyMarkers();
      empty.hidden = candles.length > 0;
      empty.textContent = candles.length ? '' : 'No candles for this market yet.';
      if (candles.length && box.dataset.last === undefined) showLast(candles[candles.length - 1].close);
      setState(candles.length ? 'ready' : 'empty', !candles.length ? 'No candles'
        : state.feedError || (state.updates ? 'Live' : 'Waiting for prices…'));
      if (!LC) setState('error', 'The chart library did not load');
    }

    /** One market_update of this chart's market: move the last candle, or start the next one. */
    function onUpdate(msg) {
      const d = (msg && msg.data) || {};
      if (state.destroyed || d.exchange !== state.exchange || d.symbol !== state.symbol) return;
      const price = Number(d.last);
      if (!Number.isFinite(price) || price <= 0) return;
      state.updates += 1;
      box.dataset.updates = String(state.updates);
      showLast(price, d.change_pct);
      setState('ready', 'Live');
      const step = tf();
      const at = Math.floor(epochSeconds(d.timestamp) / step) * step + SHIFT;
      const c = state.candles;
      const prev = c[c.length - 1];
      if (prev && at < prev.time) return; // older than what is drawn
      let bar;
      const fresh = !prev || at !== prev.time;
      if (!fresh) {
        bar = { ...prev, high: Math.max(prev.high, price), low: Math.min(prev.low, price), close: price };
        c[c.length - 1] = bar;
      } else {
        const open = prev ? prev.close : price;
        bar = { time: at, open, high: Math.max(open, price), low: Math.min(open, price), close: price };
        c.push(bar);
        if (prev) { // the previous period closed: read its exact candle from the API in a moment
          clearTimeout(state.reloadTimer);
          state.reloadTimer = setTimeout(() => load().catch(() => {}), 3000 + Math.random() * 2000);
        }
      }
      if (series) series.update(bar);
      showCount();
      if (fresh) applyMarkers(); // a trade may belong on the new candle
    }

    function subscribe() {
      const k = state.exchange && state.symbol ? key() : null;
      if (k === state.subscribed) return;
      if (state.subscribed) live.unsubscribe([state.subscribed]);
      state.subscribed = k;
      if (k) live.subscribe([k]);
    }

    const onReconnect = () => { if (!state.destroyed) load().catch(() => {}); };
    // The server's answer to the subscription: data-feed "subscribed", or "refused" with its reason (a limit on the
    // markets a connection or a user may follow, an unknown market).
    const onSubscribed = (m) => {
      if (!state.subscribed || !(m.symbols || []).includes(state.subscribed)) return;
      box.dataset.feed = 'subscribed';
      state.feedError = null;
    };
    const onError = (m) => {
      const mine = m && m.details && m.details.symbols && state.subscribed in m.details.symbols;
      if (!m || !(mine || (m.error_code === 'SUBSCRIPTION_LIMIT' && box.dataset.feed !== 'subscribed'))) return;
      box.dataset.feed = 'refused';
      state.feedError = `No live prices: ${m.error}`;
      setState(box.dataset.state, state.feedError);
    };
    live.on('market_update', onUpdate);
    live.on('reconnect', onReconnect);
    live.on('subscribed', onSubscribed);
    live.on('error', onError);
    picker.addEventListener('change', () => { state.timeframe = picker.value; state.candles = []; load().catch(() => {}); });

    const controller = {
      /** Show another market (the Markets page's and the dashboard's pickers). */
      setMarket(exchange, symbol, timeframe) {
        state.exchange = exchange || '';
        state.symbol = symbol || '';
        if (timeframe && SECONDS[timeframe]) { state.timeframe = timeframe; picker.value = timeframe; }
        state.candles = [];
        state.updates = 0;
        delete box.dataset.last;
        delete box.dataset.change;
        box.dataset.updates = '0';
        delete box.dataset.feed;
        state.feedError = null;
        last.textContent = '—';
        change.textContent = '';
        market.textContent = state.symbol ? `${state.exchange} · ${state.symbol}` : '';
        box.dataset.market = state.symbol ? key() : '';
        if (series) series.setData([]);
        subscribe();
        return load();
      },
      /** Mark trades: [{ time (ISO or epoch s), side: 'buy' | 'sell', price, text? }]. */
      setTrades(trades) {
        state.trades = (trades || []).filter((t) => t && t.time && (t.side === 'buy' || t.side === 'sell'));
        applyMarkers();
      },
      reload: () => load(),
      get market() { return { exchange: state.exchange, symbol: state.symbol, timeframe: state.timeframe }; },
      destroy() {
        state.destroyed = true;
        clearTimeout(state.reloadTimer);
        if (state.subscribed) live.unsubscribe([state.subscribed]);
        state.subscribed = null;
        live.off('market_update', onUpdate);
        live.off('reconnect', onReconnect);
        live.off('subscribed', onSubscribed);
        live.off('error', onError);
        if (chart) chart.remove();
      },
    };
    box.dataset.updates = '0';
    controller.setMarket(state.exchange, state.symbol).catch(() => {});
    return controller;
  }

  /** A bot's round trips as trades to mark: the entry (a buy) and, once sold, the exit (a sell). */
  function roundTripTrades(trips) {
    const out = [];
    for (const r of trips || []) {
      if (r.entry_at && r.entry_price != null) out.push({ time: r.entry_at, side: 'buy', price: r.entry_price });
      const exitAt = r.exit_at || r.last_exit_at;
      if (exitAt && r.exit_price != null) out.push({ time: exitAt, side: 'sell', price: r.exit_price });
    }
    return out;
  }

  Object.assign(A, { priceChart, roundTripTrades });
})();
