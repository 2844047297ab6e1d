/* Markets page (/markets?exchange=&symbol=): pick an exchange and a market, see its quote (GET /api/market/quote, then
 * every market_update of it on the WebSocket), its live price chart (amarktai.priceChart: /api/market/ohlcv +
 * market_update), its order book (GET /api/market/depth, re-read every DEPTH_EVERY_MS while the page is seen) and the
 * latest scan (GET /api/market/scan: every strategy over the watched markets, ranked by confidence; re-read when a
 * `signal` arrives and every SCAN_EVERY_MS) and the platform's reference indices (GET /api/market/indices, then
 * index_update). A scan row opens its market here. */
(() => {
  'use strict';
  const A = window.amarktai;
  const DEPTH_LEVELS = 15;
  const DEPTH_EVERY_MS = 5000;
  const SCAN_EVERY_MS = 60000;
  const SOURCES = { cache: 'Market-data feed', fetch: 'Fetched just now' };

  A.pages.markets = async () => {
    const { T, h, GET, money, number, pct, when, live, platforms, fillPlatformSelect, debounce, failedTo } = A;
    const list = (await platforms().catch(failedTo('the exchange catalogue'))) || [];
    const exchangeSel = T('market-exchange');
    const symbolSel = T('market-symbol');
    fillPlatformSelect(exchangeSel, list);
    const symbolsOf = (id) => ((list.find((p) => p.id === id) || {}).symbols || []);
    const fillSymbols = (selected) => {
      symbolSel.replaceChildren(...symbolsOf(exchangeSel.value).map((s) => h('option', { value: s }, s)));
      if (selected) symbolSel.value = selected;
    };
    const current = { exchange: '', symbol: '' };
    const quoteCcy = () => (current.symbol.includes('/') ? current.symbol.split('/')[1] : undefined);
    const price = (v) => (v === null || v === undefined ? '—' : Number(v) < 1 ? number(v, 2, 8) : money(v, quoteCcy()));
    const card = T('market-quote-card');

    // -- the quote: the API's, then every market_update of this market --------------------------------------------
    function showQuote(q, fromFeed) {
      const set = (testid, text, value) => {
        const el = T(testid);
        el.textContent = text;
        if (value !== undefined) el.dataset.value = value === null ? '' : String(value);
      };
      if (q.last !== undefined) set('market-last', price(q.last), q.last);
      if (q.bid !== undefined) set('market-bid', price(q.bid), q.bid);
      if (q.ask !== undefined) set('market-ask', price(q.ask), q.ask);
      if (q.change_pct !== undefined) {
        set('market-change', q.change_pct === null ? '—' : `${Number(q.change_pct) > 0 ? '+' : ''}${pct(q.change_pct)}`, q.change_pct);
        T('market-change').className = Number(q.change_pct) > 0 ? 'up' : Number(q.change_pct) < 0 ? 'down' : '';
      }
      if (q.high !== undefined) set('market-high', price(q.high));
      if (q.low !== undefined) set('market-low', price(q.low));
      if (q.volume !== undefined) set('market-volume', q.volume === null ? '—' : number(q.volume, 0, 4));
      if (q.source !== undefined) set('market-source', SOURCES[q.source] || q.source || '—');
      const at = q.timestamp ? when(typeof q.timestamp === 'number' ? new Date(q.timestamp > 1e12 ? q.timestamp : q.timestamp * 1000).toISOString() : q.timestamp) : null;
      T('market-quote-age').textContent = fromFeed ? `Live${at ? ` · ${at}` : ''}`
        : `${at ? `As of ${at}` : ''}${q.age_seconds !== undefined && q.age_seconds !== null ? ` (${number(q.age_seconds, 0, 1)} s old)` : ''}`;
    }
    async function loadQuote() {
      const { exchange, symbol } = current;
      const q = new URLSearchParams({ exchange, symbol });
      try {
        const data = await GET(`market/quote?${q}`);
        if (exchange !== current.exchange || symbol !== current.symbol) return;
        T('market-quote-error').textContent = '';
        showQuote(data.quote || {}, false);
        card.dataset.loaded = '1';
      } catch (err) {
        if (exchange === current.exchange && symbol === current.symbol) T('market-quote-error').textContent = `No quote: ${err.message}`;
      }
    }
    live.on('market_update', (m) => {
      const d = (m && m.data) || {};
      if (d.exchange === current.exchange && d.symbol === current.symbol) showQuote(d, true);
    });

    // -- the order book --------------------------------------------------------------------------------------------
    /** An amount in as few characters as it needs (the book's columns must fit a phone). */
    const qty = (v) => { const n = Math.abs(Number(v)); return number(v, 0, n >= 1000 ? 2 : n >= 1 ? 4 : 8); };
    function levels(rows, side) {
      let total = 0;
      return (rows || []).slice(0, DEPTH_LEVELS).map(([p, amount]) => {
        total += Number(amount) || 0;
        return h('tr', { testid: 'depth-row', dataset: { side } },
          h('td', { class: `r ${side === 'bid' ? 'up' : 'down'}`, 'data-label': 'Price' }, price(p)),
          h('td', { class: 'r', 'data-label': 'Amount' }, qty(amount)),
          h('td', { class: 'r', 'data-label': 'Total' }, qty(total)));
      });
    }
    async function loadDepth() {
      const { exchange, symbol } = current;
      const q = new URLSearchParams({ exchange, symbol, limit: String(DEPTH_LEVELS) });
      try {
        const d = (await GET(`market/depth?${q}`)).depth || {};
        if (exchange !== current.exchange || symbol !== current.symbol) return;
        T('market-depth-error').textContent = '';
        T('market-bids').replaceChildren(...levels(d.bids, 'bid'));
        T('market-asks').replaceChildren(...levels(d.asks, 'ask'));
        T('market-depth-empty').hidden = Boolean((d.bids || []).length || (d.asks || []).length);
        T('market-depth-age').textContent = d.age_seconds !== undefined && d.age_seconds !== null
          ? `${number(d.age_seconds, 0, 1)} s old · ${new Date().toLocaleTimeString()}` : new Date().toLocaleTimeString();
      } catch (err) {
        if (exchange === current.exchange && symbol === current.symbol) T('market-depth-error').textContent = `No order book: ${err.message}`;
      }
    }

    // -- the latest scan -------------------------------------------------------------------------------------------
    async function loadScan() {
      let data;
      try {
        data = await GET('market/scan');
      } catch (err) {
        T('market-scan-error').textContent = `The scan could not be read: ${err.message}`;
        return;
      }
      T('market-scan-error').textContent = '';
      const rows = (data.opportunities || []).slice().sort((x, y) => Number(y.confidence) - Number(x.confidence));
      T('market-scan-at').textContent = data.scanned_at
        ? `Ran ${when(data.scanned_at)} over ${number(data.markets_scanned || 0)} markets${data.timeframe ? ` (${data.timeframe} candles)` : ''}`
        : 'Not run yet';
      T('market-scan-card').dataset.scannedAt = data.scanned_at || '';
      T('market-scan').replaceChildren(...rows.map((r) => {
        const ccy = String(r.symbol || '').split('/')[1];
        const px = (v) => (v === null || v === undefined ? '—' : Number(v) < 1 ? number(v, 2, 8) : money(v, ccy));
        const sig = String(r.signal || '').toLowerCase();
        const open = () => select(r.exchange, r.symbol);
        return h('tr', { testid: 'scan-row', dataset: { exchange: r.exchange || '', symbol: r.symbol || '', confidence: String(r.confidence) } },
          h('td', { 'data-label': 'Market' }, h('a', { href: `/markets?${new URLSearchParams({ exchange: r.exchange || '', symbol: r.symbol || '' })}`, testid: 'scan-open',
            onclick: (ev) => { ev.preventDefault(); open(); window.scrollTo({ top: 0 }); } }, r.symbol || '—'), h('span', { class: 'sub' }, r.exchange || '')),
          h('td', { 'data-label': 'Signal' }, h('span', { class: `badge badge-${sig === 'buy' ? 'buy' : sig === 'sell' ? 'sell' : 'paused'}` }, sig || '—')),
          h('td', { 'data-label': 'Strategy' }, String(r.strategy || '—').replace(/_/g, ' ')),
          h('td', { class: 'r', 'data-label': 'Entry' }, px(r.entry_price)),
          h('td', { class: 'r', 'data-label': 'Target' }, px(r.target)),
          h('td', { class: 'r', 'data-label': 'Stop loss' }, px(r.stop_loss)),
          h('td', { class: 'r', 'data-label': 'Confidence', testid: 'scan-confidence' }, pct(r.confidence)),
          h('td', { 'data-label': 'Why' }, r.reason || '—'));
      }));
      T('market-scan-empty').hidden = rows.length > 0;
    }

    // -- the platform's reference indices (GET /api/market/indices, then index_update) -----------------------------
    function indexTile(ix) {
      const change = ix.change_pct;
      return h('div', { class: 'stat', testid: 'index-tile', dataset: { id: ix.id, value: String(ix.value ?? '') } },
        h('span', { class: 'stat-label' }, ix.name || ix.id),
        h('span', { class: 'stat-value num', testid: 'index-value' }, ix.value === null || ix.value === undefined ? '—' : number(ix.value, 2, 2)),
        h('span', { class: `small num ${Number(change) > 0 ? 'up' : Number(change) < 0 ? 'down' : 'muted'}` },
          change === null || change === undefined ? 'no change yet' : `${Number(change) > 0 ? '+' : ''}${pct(change)}`,
          ` · ${(ix.constituents || []).length} ${ix.quote || ''}`.trimEnd()));
    }
    const indices = new Map();
    function showIndices() {
      T('market-indices').replaceChildren(...[...indices.values()].map(indexTile));
      T('market-indices-empty').hidden = indices.size > 0;
    }
    async function loadIndices() {
      try {
        const data = await GET('market/indices');
        indices.clear();
        (data.indices || []).forEach((ix) => indices.set(ix.id, ix));
        T('market-indices-error').textContent = '';
        showIndices();
      } catch (err) {
        T('market-indices-error').textContent = `The indices could not be read: ${err.message}`;
      }
    }
    live.on('index_update', (m) => {
      if (!m || !m.id) return;
      indices.set(m.id, { ...(indices.get(m.id) || {}), ...m });
      showIndices();
    });

    // -- picking a market --------------------------------------------------------------------------------------------
    const params = new URLSearchParams(location.search);
    const start = list.find((p) => p.id === params.get('exchange') && p.enabled !== false) || list.find((p) => p.enabled !== false);
    if (start) exchangeSel.value = start.id;
    fillSymbols(start && symbolsOf(start.id).includes(params.get('symbol')) ? params.get('symbol') : undefined);
    let chart = null;

    function select(exchange, symbol) {
      if (exchange && exchangeSel.value !== exchange) { exchangeSel.value = exchange; fillSymbols(); }
      if (symbol) {
        if (![...symbolSel.options].some((o) => o.value === symbol)) symbolSel.append(h('option', { value: symbol }, symbol));
        symbolSel.value = symbol;
      }
      current.exchange = exchangeSel.value;
      current.symbol = symbolSel.value;
      card.dataset.market = `${current.exchange}:${current.symbol}`;
      delete card.dataset.loaded;
      ['market-last', 'market-bid', 'market-ask', 'market-change', 'market-high', 'market-low', 'market-volume', 'market-source']
        .forEach((id) => { T(id).textContent = '—'; delete T(id).dataset.value; });
      T('market-bids').replaceChildren();
      T('market-asks').replaceChildren();
      history.replaceState(null, '', `/markets?${new URLSearchParams({ exchange: current.exchange, symbol: current.symbol })}`);
      if (chart) chart.setMarket(current.exchange, current.symbol).catch(() => {});
      else chart = A.priceChart(T('market-price-chart'), { exchange: current.exchange, symbol: current.symbol, testid: 'market-chart' });
      return Promise.all([loadQuote(), loadDepth()]);
    }
    exchangeSel.addEventListener('change', () => { fillSymbols(); select(); });
    symbolSel.addEventListener('change', () => select());

    await Promise.all([select(), loadScan(), loadIndices()]);

    const seen = () => document.visibilityState === 'visible';
    setInterval(() => { if (seen()) loadDepth(); }, DEPTH_EVERY_MS);
    setInterval(() => { if (seen()) loadScan(); }, SCAN_EVERY_MS);
    const refreshScan = debounce(() => loadScan(), 1000);
    live.on('signal', refreshScan);
    live.on('reconnect', () => { loadQuote(); loadDepth(); loadScan(); loadIndices(); });
  };
})();
