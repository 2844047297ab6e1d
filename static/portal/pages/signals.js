/* Signals page: the strategy signals of the user's bots (POST /api/signals/filter), newest first, a page at a time
 * (cursor pagination: next_cursor), filtered by pair, strategy, side, minimum confidence and time range; new signals
 * arrive live over the WebSocket (`signal` messages) and are prepended when they match the filters. */
(() => {
  'use strict';
  const A = window.amarktai;
  const LIMIT = 25;
  const OUTCOMES = { traded: 'Traded', skipped: 'Not traded (below minimum size)', not_actionable: 'Not actionable' };

  A.pages.signals = async () => {
    const { T, h, POST, number, money, when, onSubmit, live, pageError, debounce } = A;
    const badge = (text, kind, testid) => h('span', { class: `badge badge-${kind}`, testid }, text);
    const form = T('signals-filter');
    let filters = {};
    let cursors = [null]; // the cursor of each page seen so far (null: the newest)
    let page = 0;
    let next = null;
    const shown = new Set();

    const quote = (symbol) => (symbol && symbol.includes('/') ? symbol.split('/')[1] : undefined);
    const cell = (label, content, extra = {}) => h('td', { 'data-label': label, ...extra }, content);
    function row(s) {
      const ccy = quote(s.symbol);
      return h('tr', { testid: 'signal-row', dataset: { id: s.id, side: s.side, outcome: s.outcome } },
        cell('Time', when(s.timestamp)),
        cell('Bot', s.bot_name || '—', { testid: 'signal-bot' }),
        cell('Pair', s.symbol, { testid: 'signal-symbol' }),
        cell('Signal', badge(s.signal, s.side, 'signal-side')),
        cell('Entry', money(s.entry_price, ccy), { class: 'r' }),
        cell('Target', s.target === null ? '—' : money(s.target, ccy), { class: 'r' }),
        cell('Stop loss', s.stop_loss === null ? '—' : money(s.stop_loss, ccy), { class: 'r' }),
        cell('Confidence', `${number(s.confidence, 0, 1)}%`, { class: 'r', testid: 'signal-confidence' }),
        cell('Outcome', OUTCOMES[s.outcome] || s.outcome, { testid: 'signal-outcome' }),
        cell('Reason', h('span', { class: 'sub' }, `${s.strategy}: ${s.reason || ''}`)));
    }

    function readFilters(data) {
      const out = {};
      if (data.symbol) out.symbol = data.symbol.toUpperCase();
      if (data.strategy) out.strategy = data.strategy;
      if (data.side) out.side = data.side;
      if (data.min_confidence !== '') out.min_confidence = data.min_confidence;
      for (const key of ['since', 'until']) {
        if (!data[key]) continue;
        const d = new Date(data[key]); // datetime-local: the browser's local time
        out[key] = Number.isNaN(d.getTime()) ? data[key] : d.toISOString();
      }
      return out;
    }

    async function load() {
      const body = { ...filters, limit: LIMIT };
      if (cursors[page]) body.cursor = cursors[page];
      const data = await POST('signals/filter', body);
      const signals = data.signals || [];
      next = data.next_cursor || null;
      shown.clear();
      signals.forEach((s) => shown.add(s.id));
      T('signals-list').replaceChildren(...signals.map(row));
      T('signals-empty').hidden = signals.length > 0;
      T('signals-prev').disabled = page === 0;
      T('signals-next').disabled = !next;
      T('signals-page').textContent = signals.length ? `Page ${page + 1}` : '';
      T('signals-count').textContent = signals.length ? `${signals.length} on this page${next ? ', older ones follow' : ''}` : '';
    }

    function matches(s) {
      if (filters.symbol && s.symbol !== filters.symbol) return false;
      if (filters.strategy && s.strategy !== filters.strategy) return false;
      if (filters.side && s.side !== filters.side) return false;
      if (filters.min_confidence !== undefined && Number(s.confidence) < Number(filters.min_confidence)) return false;
      const t = new Date(s.timestamp).getTime();
      if (filters.since && t < new Date(filters.since).getTime()) return false;
      if (filters.until && t >= new Date(filters.until).getTime()) return false;
      return true;
    }

    onSubmit(form, async (data) => {
      const wanted = readFilters(data);
      const saved = { filters, cursors, page };
      filters = wanted; cursors = [null]; page = 0;
      try {
        await load();
      } catch (err) {
        ({ filters, cursors, page } = saved);
        throw err; // field errors next to their fields
      }
    });
    T('signals-reset').addEventListener('click', () => {
      form.reset();
      A.clearErrors(form);
      filters = {}; cursors = [null]; page = 0;
      load().catch(pageError);
    });
    T('signals-next').addEventListener('click', () => {
      if (!next) return;
      cursors = cursors.slice(0, page + 1).concat([next]);
      page += 1;
      load().catch(pageError);
    });
    T('signals-prev').addEventListener('click', () => {
      page = Math.max(0, page - 1);
      load().catch(pageError);
    });

    await load().catch(A.failedTo('your signals'));

    live.on('signal', (s) => {
      if (page !== 0 || shown.has(s.id) || !matches(s)) return;
      shown.add(s.id);
      const tr = row(s);
      tr.classList.add('flash');
      const list = T('signals-list');
      list.prepend(tr); // the page grows rather than dropping a row that "Older" would then skip
      T('signals-empty').hidden = true;
    });
    live.on('reconnect', debounce(() => { if (page === 0) load().catch(() => {}); }, 400));
  };
})();
