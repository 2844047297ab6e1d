/* Trades page: every trade (or every round trip) of the user, filtered by bot, pair, side and dates, a page at a time,
 * with a CSV export of the same filters. The filters, the view and the page live in the address (?bot=..&offset=..),
 * so a reload or a shared link shows the same list. Reads GET /api/trades, /api/trades/round-trips and
 * /api/trades/export (downloaded through fetch with the token in the Authorization header, then saved from a Blob). */
(() => {
  'use strict';

  const A = window.amarktai;
  const { T, h, GET, api, session, number, live, debounce, pageError, failedTo, onSubmit, showErrors, clearErrors, toast } = A;
  const LIMIT = 25;
  const FILTERS = ['bot', 'symbol', 'side', 'from', 'to'];

  A.pages.trades = async () => {
    const form = T('trades-filters');
    const params = new URLSearchParams(location.search);
    const state = {
      view: params.get('view') === 'round-trips' ? 'round-trips' : 'trades',
      offset: Math.max(0, parseInt(params.get('offset') || '0', 10) || 0),
      filters: {},
    };
    FILTERS.forEach((k) => { if (params.get(k)) state.filters[k] = params.get(k); });
    FILTERS.forEach((k) => { if (form.elements[k]) form.elements[k].value = state.filters[k] || ''; });
    const botNames = new Map();

    function query(extra = {}) {
      const q = new URLSearchParams();
      Object.entries({ ...state.filters, ...extra }).forEach(([k, v]) => { if (v !== '' && v !== undefined && v !== null) q.set(k, v); });
      return q.toString();
    }

    function remember() {
      const q = query({ offset: state.offset || '', view: state.view === 'trades' ? '' : state.view });
      history.replaceState(null, '', q ? `?${q}` : location.pathname);
    }

    function showView() {
      const trips = state.view === 'round-trips';
      T('trades-table').hidden = trips;
      T('round-trips-table').hidden = !trips;
      T('view-trades').setAttribute('aria-selected', String(!trips));
      T('view-round-trips').setAttribute('aria-selected', String(trips));
      form.elements.side.disabled = trips; // a round trip has both sides
    }

    async function load() {
      const trips = state.view === 'round-trips';
      const filters = trips ? { ...state.filters, side: undefined } : state.filters;
      const q = new URLSearchParams(Object.entries({ ...filters, limit: LIMIT, offset: state.offset }).filter(([, v]) => v !== undefined && v !== ''));
      const data = await GET(`${trips ? 'trades/round-trips' : 'trades'}?${q}`);
      const rows = trips ? (data.round_trips || []) : (data.trades || []);
      const total = data.total ?? rows.length;
      if (trips) T('round-trips').replaceChildren(...rows.map((r) => A.roundTripRow(r, { withBot: true })));
      else T('trades-list').replaceChildren(...rows.map((t) => A.tradeRow(t, { withBot: true, withExchange: true, withCost: true, withFee: true, withSource: true, botNames })));
      const filtered = Object.keys(state.filters).length > 0;
      T('trades-empty').hidden = rows.length > 0;
      T('trades-empty').textContent = filtered ? 'Nothing matches these filters.' : trips ? 'No round trips yet.' : 'No trades yet.';
      T('trades-range').textContent = total ? `${number(state.offset + 1)}–${number(state.offset + rows.length)} of ${number(total)} ${trips ? 'round trips' : 'trades'}` : '';
      T('trades-page').textContent = total > LIMIT ? `Page ${number(Math.floor(state.offset / LIMIT) + 1)} of ${number(Math.ceil(total / LIMIT))}` : '';
      T('trades-prev').disabled = state.offset === 0;
      T('trades-next').disabled = state.offset + LIMIT >= total;
      remember();
    }

    async function loadBots() {
      const bots = (await GET('bots')).bots || [];
      botNames.clear();
      bots.forEach((b) => botNames.set(b.id, b.name));
      const select = form.elements.bot;
      const chosen = state.filters.bot || '';
      select.replaceChildren(h('option', { value: '' }, 'All bots'), ...bots.map((b) => h('option', { value: b.id }, b.name)));
      if (chosen && !botNames.has(chosen)) select.append(h('option', { value: chosen }, 'Unknown bot'));
      select.value = chosen;
    }

    function readForm() {
      const out = {};
      FILTERS.forEach((k) => {
        const el = form.elements[k];
        if (el && !el.disabled && el.value.trim()) out[k] = el.value.trim();
      });
      if (state.view === 'round-trips' && state.filters.side) out.side = state.filters.side; // kept for the trades view
      return out;
    }

    onSubmit(form, async () => {
      const previous = state.filters;
      state.filters = readForm();
      state.offset = 0;
      try {
        await load();
      } catch (err) {
        state.filters = previous;
        throw err; // shown next to the field the API names (from, to, symbol, ...)
      }
    });
    T('filter-reset').addEventListener('click', () => {
      form.reset();
      clearErrors(form);
      state.filters = {};
      state.offset = 0;
      load().catch(failedTo('your trades'));
    });
    T('trades-prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - LIMIT); load().catch(pageError); });
    T('trades-next').addEventListener('click', () => { state.offset += LIMIT; load().catch(pageError); });
    ['trades', 'round-trips'].forEach((view) => T(`view-${view}`).addEventListener('click', () => {
      if (state.view === view) return;
      state.view = view;
      state.offset = 0;
      showView();
      load().catch(pageError);
    }));

    async function download(retried = false) {
      const filters = { ...state.filters, format: 'csv' };
      const resp = await fetch(`/api/trades/export?${new URLSearchParams(filters)}`,
        { headers: { Authorization: `Bearer ${session.token}`, Accept: 'text/csv, application/json' } });
      if (resp.status === 401 && !retried) {
        await api('GET', 'auth/me'); // refreshes the token once (or signs out)
        return download(true);
      }
      if (!resp.ok) {
        let body = null;
        try { body = await resp.json(); } catch (e) { body = null; }
        throw new Error((body && body.error) || `Export failed (HTTP ${resp.status})`);
      }
      const blob = await resp.blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `amarktai-trades-${new Date().toISOString().slice(0, 10)}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      return blob;
    }
    T('trades-export').addEventListener('click', async (ev) => {
      const btn = ev.currentTarget;
      btn.disabled = true;
      try {
        await download();
        toast('Your CSV is downloading.', 'success');
      } catch (err) {
        showErrors(form, err);
      } finally {
        btn.disabled = false;
      }
    });

    showView();
    await Promise.all([loadBots().catch(() => {}), load().catch(failedTo('your trades'))]);
    // On the first page, new trades appear as they execute; further back the page stays put (stable paging).
    const reload = debounce(() => { if (state.offset === 0) load().catch(() => {}); }, 400);
    live.on('trade_executed', reload);
    live.on('bot_update', debounce(() => loadBots().catch(() => {}), 400));
    live.on('reconnect', reload);
  };
})();
