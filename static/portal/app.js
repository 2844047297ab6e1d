/* Amarktai portal: every page is driven by the public JSON API (/api/...) and the WebSocket feed (/api/ws).
 *
 * - Sessions (accounts/cookies.py): the refresh token lives in an HttpOnly, SameSite=Strict cookie that script never
 *   sees; the access token lives in this page's memory only. Every page load (a new tab, a reload, a link) gets its
 *   access token from POST /api/auth/refresh with that cookie and the CSRF header, so a second tab needs no password and
 *   no 2FA code. Refreshes are serialized across tabs (Web Locks), and the server gives a cookie that was rotated a
 *   moment ago the same successor, so tabs refreshing together never log each other out. Logging out in one tab ends
 *   the session on the server, clears the cookie and tells the other tabs (BroadcastChannel).
 * - Errors follow the API's error schema {success:false, error, error_code, timestamp, details?}: field messages are
 *   shown next to their field, everything else next to the form or action that failed.
 * - Nothing here is inserted as HTML: all text goes through textContent (see h()).
 */
(() => {
  'use strict';

  // ---------------------------------------------------------------------------------------------------------------
  // Session
  // The access token: in memory only. The user object is a display cache (not a secret) kept per tab.
  const USER_KEY = 'amk.user';
  const LEGACY = { token: 'amk.token', refresh: 'amk.refresh' }; // older portals kept the pair in sessionStorage
  let accessToken = null;
  const session = {
    get token() { return accessToken; },
    get user() {
      try { return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null'); } catch (e) { return null; }
    },
    save({ token, user }) {
      if (token) accessToken = token;
      if (user) sessionStorage.setItem(USER_KEY, JSON.stringify({ ...(this.user || {}), ...user }));
    },
    clear() {
      accessToken = null;
      [USER_KEY, LEGACY.token, LEGACY.refresh].forEach((k) => sessionStorage.removeItem(k));
    },
  };
  const tabs = 'BroadcastChannel' in window ? new BroadcastChannel('amk-session') : null;
  // Resolves once boot knows whether this page is signed in (true: session.token is set). The token comes from an
  // asynchronous refresh, so code outside the pages (top-bar widgets) that needs it waits for this, not DOMContentLoaded.
  let markReady;
  const ready = new Promise((resolve) => { markReady = resolve; });

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : '';
  }
  function authHeaders() {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Session-Mode': 'cookie' };
    const csrf = csrfToken();
    if (csrf) headers['X-CSRFToken'] = csrf;
    return headers;
  }

  // One logout per page: while it waits for the server, a request refused with 401 (its token just ended) calls it
  // again, and a second navigation would abort the first.
  let loggingOut = false;
  async function logout(reason) {
    if (loggingOut) return;
    loggingOut = true;
    live.stop();
    if (!reason) {
      // Logging out ends the session on the server too: the cookie's refresh token is blacklisted, its access tokens
      // refused, the cookie cleared. Wait for it, so the login page does not find the cookie still there.
      // Under the refresh lock, so it sends the cookie a refresh under way (in any tab) is about to set.
      await withRefreshLock(async () => {
        try {
          await fetch('/api/auth/logout', { method: 'POST', credentials: 'same-origin', headers: authHeaders(), body: '{}' });
        } catch (e) { /* offline: the server-side session ends at its expiry */ }
      }).catch(() => {});
      if (tabs) tabs.postMessage({ type: 'logout' });
    }
    session.clear();
    const next = location.pathname.startsWith('/login') ? '' : `?next=${encodeURIComponent(location.pathname)}`;
    if (reason) sessionStorage.setItem('amk.flash', reason);
    location.replace(`/login${reason ? next : ''}`);
  }
  if (tabs) {
    tabs.onmessage = (ev) => {
      if (ev.data && ev.data.type === 'logout' && document.body.dataset.public !== '1') {
        logout('You logged out in another tab.');
      }
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // API client
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || `Request failed (HTTP ${status})`);
      this.status = status;
      this.code = (body && body.error_code) || 'ERROR';
      this.details = (body && body.details) || {};
    }
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // One refresh at a time across this browser's tabs: the next one waits and then sends the cookie the first one got.
  function withRefreshLock(fn) {
    if (navigator.locks && navigator.locks.request) return navigator.locks.request('amk-refresh', fn);
    return fn();
  }

  async function postRefresh(body) {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let r;
      try {
        r = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: authHeaders(), body: JSON.stringify(body) });
      } catch (e) {
        await sleep(1000 * (attempt + 1)); // the server is restarting or the network blinked
        continue;
      }
      if (r.status === 429) { // throttled, not signed out: wait as told and try again
        await sleep(Math.min(10, Number(r.headers.get('Retry-After')) || 2) * 1000);
        continue;
      }
      if (!r.ok) return false;
      const data = await r.json().catch(() => ({}));
      accessToken = data.token || data.access || null;
      return Boolean(accessToken);
    }
    return false;
  }

  async function refreshOnce() {
    // A tab from an older portal (or a test) may hold the pair in sessionStorage: its refresh token is rotated into the
    // cookie once, and from then on nothing is kept there.
    const legacy = sessionStorage.getItem(LEGACY.refresh);
    if (legacy) {
      sessionStorage.removeItem(LEGACY.refresh);
      if (await postRefresh({ refresh: legacy })) { sessionStorage.removeItem(LEGACY.token); return true; }
    }
    if (sessionStorage.getItem(LEGACY.token)) return false; // this tab runs on the older portal's access token
    return postRefresh({}); // the cookie
  }

  let refreshing = null;
  function refreshToken() {
    if (!refreshing) {
      refreshing = withRefreshLock(refreshOnce).catch(() => false)
        .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
    }
    return refreshing;
  }

  async function api(method, path, body, { auth = true, retried = false } = {}) {
    const headers = { Accept: 'application/json', 'X-Session-Mode': 'cookie' }; // login/register: refresh token as a cookie
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
    let resp;
    try {
      resp = await fetch(`/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, { error: 'Cannot reach the server. Check your connection and try again.', error_code: 'NETWORK' });
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401 && auth) {
      if (headers.Authorization === `Bearer ${sessionStorage.getItem(LEGACY.token)}`) sessionStorage.removeItem(LEGACY.token);
      if (!retried && await refreshToken()) return api(method, path, body, { auth, retried: true });
      logout('Your session has expired. Please log in again.');
      throw new ApiError(401, data);
    }
    if (!resp.ok || (data && data.success === false)) throw new ApiError(resp.status, data);
    return data || {};
  }
  const GET = (p) => api('GET', p);
  const POST = (p, b = {}) => api('POST', p, b);
  const DEL = (p) => api('DELETE', p);

  // ---------------------------------------------------------------------------------------------------------------
  // DOM helpers
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** Toasts sit in the sticky header, under the top bar, and take their own room: the page keeps its scroll position,
   * so what was on screen moves down by the toast's height instead of being covered (and back when it goes). */
  function keepingScroll(change) {
    const x = window.scrollX; const y = window.scrollY;
    // A control the sticky header already hid in part (its top under the header's bottom edge, as when a page is
    // scrolled to where a button straddles that edge) would end up under the new toast: bring it whole into view.
    const chrome = $('.chrome');
    const edge = chrome && y > 0 ? chrome.getBoundingClientRect().bottom : 0;
    let hidden = 0;
    if (edge) {
      for (const el of $$('main button, main .btn, main [role="button"], main input, main select, main textarea, main a[href]')) {
        const r = el.getBoundingClientRect();
        if (r.height && r.top < edge && r.bottom > edge) hidden = Math.max(hidden, edge - r.top);
      }
    }
    change();
    window.scrollTo(x, Math.max(0, y - Math.ceil(hidden)));
  }
  function toast(message, level = 'info') {
    const box = T('toasts');
    if (!box) return;
    const t = h('div', { class: `toast toast-${level}`, role: 'status', testid: 'toast' }, message);
    keepingScroll(() => {
      box.append(t);
      while (box.children.length > 3) box.firstElementChild.remove();
    });
    setTimeout(() => { if (t.isConnected) keepingScroll(() => t.remove()); }, 6000);
  }

  /** Tables become cards on narrow screens (app.css): each cell is labelled by its column's <thead> text through
   * data-label, unless the page set one itself. Runs on every change under <main> (see watchTables). */
  function labelTable(table) {
    const heads = $$('thead th', table).map((th) => th.textContent.trim());
    if (!heads.length) return;
    for (const tr of table.tBodies ? Array.from(table.tBodies).flatMap((b) => Array.from(b.rows)) : []) {
      let col = 0;
      for (const cell of Array.from(tr.cells)) {
        if (cell.tagName === 'TD' && !cell.hasAttribute('data-label')) cell.dataset.label = heads[col] || '';
        col += cell.colSpan || 1;
      }
    }
  }
  function watchTables(root) {
    if (!root) return;
    $$('table', root).forEach(labelTable);
    new MutationObserver((records) => {
      const tables = new Set();
      for (const r of records) {
        const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
        const t = el && el.closest('table');
        if (t) tables.add(t);
        r.addedNodes.forEach((n) => { if (n.nodeType === 1) $$('table', n).forEach((x) => tables.add(x)); });
      }
      tables.forEach(labelTable);
    }).observe(root, { childList: true, subtree: true });
  }

  function pageError(err, what) {
    const box = T('page-error');
    if (!box) return;
    if (!err) { box.hidden = true; box.textContent = ''; return; }
    const line = h('div', {}, what ? `Could not load ${what}: ${err.message || err}` : (err.message || String(err)));
    box.append(line);
    box.hidden = false;
  }
  const failedTo = (what) => (err) => pageError(err, what);

  function formData(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if (el.type === 'radio' && !el.checked) continue;
      out[el.name] = typeof el.value === 'string' ? el.value.trim() : el.value;
    }
    return out;
  }

  function clearErrors(form) {
    $$('.field-error', form).forEach((e) => { e.textContent = ''; });
    $$('.invalid', form).forEach((e) => e.classList.remove('invalid'));
    $$('.form-error, .ok-text', form).forEach((e) => { e.textContent = ''; });
  }

  /** Show an API error on a form: details next to their fields, the rest in the form's .form-error. */
  function showErrors(form, err) {
    let placed = 0;
    for (const [field, msgs] of Object.entries(err.details || {})) {
      // "params.fast" goes to its own slot, else to its parent field's ("params": e.g. one JSON box for them all).
      const parent = field.includes('.') ? field.split('.')[0] : null;
      const slot = $(`[data-error-for="${CSS.escape(field)}"]`, form) || (parent && $(`[data-error-for="${CSS.escape(parent)}"]`, form));
      if (!slot || typeof msgs === 'boolean') continue;
      const text = (Array.isArray(msgs) ? msgs : [msgs]).map(String).join(' ');
      slot.textContent = slot.dataset.errorFor === field ? text : `${field.slice(parent.length + 1)}: ${text}`;
      const input = form.elements[field] || (parent && form.elements[parent]);
      if (input && input.classList) input.classList.add('invalid');
      const fold = slot.closest('details'); // an error inside a folded section (e.g. a bot's exits) unfolds it
      if (fold) fold.open = true;
      placed += 1;
    }
    const box = $('.form-error', form);
    if (box && !placed) box.textContent = err.message;
    else if (!box && !placed) toast(err.message, 'error');
  }

  /** Wire a form to an async submit handler with busy state and error display. */
  function onSubmit(form, handler) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const btn = $('button[type="submit"]', form);
      if (btn) btn.disabled = true;
      try {
        await handler(formData(form), form);
      } catch (err) {
        if (err instanceof ApiError) showErrors(form, err); else { console.error(err); showErrors(form, { message: String(err) }); }
      } finally {
        if (btn) btn.disabled = false;
      }
    });
    form.dataset.bound = '1';
    if (form.dataset.pendingSubmit) {
      // Submitted before this handler existed (guard.js held it back): send it now, once the page has set itself up.
      delete form.dataset.pendingSubmit;
      setTimeout(() => form.requestSubmit(), 0);
    }
  }

  /** A two-step destructive button: first click arms it, a second click within 4 s runs the action. */
  function armedButton(label, armedLabel, testid, action, cls = 'btn btn-danger btn-sm') {
    const btn = h('button', { type: 'button', class: cls, testid }, label);
    let timer = null;
    btn.addEventListener('click', async () => {
      if (!btn.dataset.armed) {
        btn.dataset.armed = '1';
        btn.textContent = armedLabel;
        timer = setTimeout(() => { delete btn.dataset.armed; btn.textContent = label; }, 4000);
        return;
      }
      clearTimeout(timer);
      delete btn.dataset.armed;
      btn.textContent = label;
      await action(btn);
    });
    return btn;
  }

  /** Run a row/button action; on failure show the API's message next to the action. */
  async function act(btn, slot, fn) {
    if (slot) slot.textContent = '';
    btn.disabled = true;
    try {
      await fn();
    } catch (err) {
      if (slot) slot.textContent = err.message; else toast(err.message, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Formatting: money with the user's currency via Intl.NumberFormat, e.g. "R 1 234.56" for ZAR.
  const moneyFormats = new Map();
  function money(value, currency) {
    const ccy = (currency || (session.user && session.user.currency) || 'ZAR').toUpperCase();
    const n = Number(value);
    if (value === null || value === undefined || Number.isNaN(n)) return '—';
    let fmt = moneyFormats.get(ccy);
    if (fmt === undefined) {
      try {
        fmt = new Intl.NumberFormat('en-ZA', { style: 'currency', currency: ccy, currencyDisplay: 'narrowSymbol',
          minimumFractionDigits: 2, maximumFractionDigits: 2 });
      } catch (e) {
        fmt = null; // not an ISO 4217 code (e.g. USDT): plain number + code
      }
      moneyFormats.set(ccy, fmt);
    }
    if (!fmt) return `${number(n, 2, 2)} ${ccy}`;
    return fmt.formatToParts(n).map((p) => {
      if (p.type === 'group') return '\u00a0';
      if (p.type === 'decimal') return '.';
      if (p.type === 'literal' && /\s/.test(p.value)) return '\u00a0';
      return p.value;
    }).join('');
  }
  function number(value, minDigits = 0, maxDigits = 8) {
    const n = Number(value);
    if (value === null || value === undefined || Number.isNaN(n)) return '—';
    return new Intl.NumberFormat('en-ZA', { minimumFractionDigits: minDigits, maximumFractionDigits: maxDigits })
      .formatToParts(n).map((p) => (p.type === 'group' ? '\u00a0' : p.type === 'decimal' ? '.' : p.value)).join('');
  }
  function signedMoney(value, currency) {
    const n = Number(value);
    const s = money(value, currency);
    return n > 0 ? `+${s}` : s;
  }
  function pct(value) {
    const n = Number(value);
    if (value === null || value === undefined || Number.isNaN(n)) return '—';
    return `${number(n, 1, 1)}%`;
  }
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function when(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '—' : dateFmt.format(d);
  }
  const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const shortWhen = (d) => shortFmt.format(d);
  const cls = (n) => (Number(n) > 0 ? 'up' : Number(n) < 0 ? 'down' : '');
  const quoteOf = (symbol) => (symbol && symbol.includes('/') ? symbol.split('/')[1] : undefined);
  const badge = (text, kind, testid) => h('span', { class: `badge badge-${kind || text}`, testid }, String(text || '').replace(/_/g, ' '));

  // Platform catalogue (public), cached per page.
  let platformsPromise = null;
  function platforms() {
    if (!platformsPromise) platformsPromise = api('GET', 'system/platforms', undefined, { auth: false }).then((d) => d.platforms || []);
    return platformsPromise;
  }
  async function platformQuote(id) {
    const p = (await platforms()).find((x) => x.id === id);
    return p && p.quote_currency;
  }
  function fillPlatformSelect(select, list) {
    select.replaceChildren(...list.filter((p) => p.enabled !== false).map((p) => h('option', { value: p.id }, `${p.display_name || p.name}`)));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Real-time feed: /api/ws?token=..., reconnect with exponential backoff (+ jitter), refresh the JWT on 4401.
  const live = {
    ws: null, attempt: 0, stopped: false, connectedOnce: false, handlers: {}, pingTimer: null, retryTimer: null,
    on(type, fn) { (this.handlers[type] = this.handlers[type] || []).push(fn); },
    off(type, fn) { this.handlers[type] = (this.handlers[type] || []).filter((f) => f !== fn); },
    // Market subscriptions ("<exchange>:<SYMBOL>" -> how many charts want it): market_update messages for them. Sent
    // when the first one asks, and again after every (re)connect.
    markets: new Map(),
    send(msg) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.ws.send(JSON.stringify(msg));
      return true;
    },
    subscribe(symbols) {
      const fresh = symbols.filter((s) => { const n = this.markets.get(s) || 0; this.markets.set(s, n + 1); return n === 0; });
      if (fresh.length) this.send({ type: 'subscribe', symbols: fresh });
    },
    unsubscribe(symbols) {
      const gone = symbols.filter((s) => {
        const n = (this.markets.get(s) || 0) - 1;
        if (n > 0) { this.markets.set(s, n); return false; }
        return this.markets.delete(s);
      });
      if (gone.length) this.send({ type: 'unsubscribe', symbols: gone });
    },
    emit(type, msg) { (this.handlers[type] || []).forEach((fn) => { try { fn(msg); } catch (e) { console.error(e); } }); },
    setState(state, label) {
      document.body.dataset.live = state;
      const el = T('live-status');
      if (!el) return;
      el.dataset.state = state;
      $('.live-label', el).textContent = label;
    },
    start() {
      this.stopped = false;
      this.connect();
    },
    stop() {
      this.stopped = true;
      clearTimeout(this.retryTimer);
      clearInterval(this.pingTimer);
      if (this.ws) this.ws.close(1000);
    },
    connect() {
      if (this.stopped || !session.token) return;
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${scheme}://${location.host}/api/ws?token=${encodeURIComponent(session.token)}`);
      this.ws = ws;
      this.setState('connecting', this.connectedOnce ? 'Reconnecting…' : 'Connecting…');
      ws.onopen = () => {
        this.attempt = 0;
        this.setState('live', 'Connected'); // the feed, not the trading mode (the PAPER/LIVE pill says that)
        if (this.connectedOnce) this.emit('reconnect', {});
        this.connectedOnce = true;
        if (this.markets.size) this.send({ type: 'subscribe', symbols: [...this.markets.keys()] });
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping', timestamp: new Date().toISOString() }));
        }, 25000);
      };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg && msg.type) this.emit(msg.type, msg);
      };
      ws.onclose = async (ev) => {
        clearInterval(this.pingTimer);
        if (this.ws !== ws || this.stopped) return;
        this.setState('offline', 'Reconnecting…');
        if (ev.code === 4401 && !(await refreshToken())) { logout('Your session has expired. Please log in again.'); return; }
        const base = Math.min(15000, 500 * 2 ** this.attempt);
        this.attempt += 1;
        this.retryTimer = setTimeout(() => this.connect(), base * (0.75 + Math.random() * 0.5));
      };
    },
  };

  live.on('alert', (m) => toast(m.message, m.level === 'error' ? 'error' : m.level === 'warning' ? 'warning' : 'info'));

  // ---------------------------------------------------------------------------------------------------------------
  // Confirmations and the manual exit (shared by every page that shows open positions)

  /** A modal confirmation (a <dialog>): resolves true when the user confirms, false on Cancel or Escape. `body` is a
   * string or a list of paragraphs; everything is text (no HTML). */
  function confirmDialog({ title, body, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = true, testid = 'confirm-dialog', input = null }) {
    // With `input` ({ label, maxlength }) it asks for a line of text too and resolves to it (a string), or null.
    return new Promise((resolve) => {
      const heading = h('h2', { id: `${testid}-title` }, title);
      const paragraphs = (Array.isArray(body) ? body : [body]).filter(Boolean).map((t) => h('p', { testid: `${testid}-text` }, t));
      const field = input ? h('input', { type: 'text', maxlength: input.maxlength || 200, testid: `${testid}-input` }) : null;
      if (field) paragraphs.push(h('label', { class: 'form-stack' }, input.label, field));
      const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', testid: `${testid}-confirm` }, confirmLabel);
      const cancel = h('button', { type: 'button', class: 'btn btn-ghost', testid: `${testid}-cancel` }, cancelLabel);
      const dlg = h('dialog', { class: 'confirm-dialog', testid, 'aria-labelledby': `${testid}-title` },
        heading, ...paragraphs, h('div', { class: 'confirm-actions' }, cancel, ok));
      let settled = false;
      const done = (value) => {
        if (settled) return;
        settled = true;
        if (dlg.open) dlg.close();
        dlg.remove();
        resolve(value);
      };
      ok.addEventListener('click', () => done(field ? field.value.trim() : true));
      cancel.addEventListener('click', () => done(field ? null : false));
      dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(field ? null : false); });
      document.body.append(dlg);
      if (typeof dlg.showModal === 'function') dlg.showModal(); else dlg.setAttribute('open', '');
      (field || cancel).focus();
    });
  }

  /** "0.0012 BTC (BTC/ZAR on luno)" for a position from GET /api/positions. */
  function positionLabel(p) {
    const base = (p.symbol || '').split('/')[0];
    return `${number(p.amount, 0, 8)} ${base} (${p.symbol} on ${p.exchange})`;
  }

  /** What closing a position does, in the words the confirmation shows. */
  function closePositionText(p, botName) {
    const ccy = quoteOf(p.symbol);
    const lines = [`Sell ${positionLabel(p)} at market now.`];
    if (p.current_price !== undefined && p.current_price !== null) {
      lines.push(`Bought at ${money(p.entry_price, ccy)}, now about ${money(p.current_price, ccy)}: ${signedMoney(p.unrealised_pnl, ccy)} unrealised (the sale price decides the final result).`);
    }
    if (botName) {
      lines.push(`The profit or loss is booked to ${botName}. The bot keeps running and may buy again on its next signal: pause it as well if you want it to stay out.`);
    }
    return lines;
  }

  /** A "Close" button for an open position: asks for confirmation, then sells it at market
   * (POST /api/positions/{id}/close). `onClosed(response)` runs after a successful close; errors go to `slot`. */
  function closePositionButton(p, { botName, onClosed, slot } = {}) {
    return h('button', {
      type: 'button', class: 'btn btn-danger btn-sm', testid: 'position-close', dataset: { id: p.id },
      onclick: async (ev) => {
        const btn = ev.currentTarget;
        const yes = await confirmDialog({ title: `Close this position${botName ? ` of ${botName}` : ''}?`,
          body: closePositionText(p, botName), confirmLabel: 'Close at market', testid: 'close-dialog' });
        if (!yes) return;
        await act(btn, slot, async () => {
          const res = await POST(`positions/${p.id}/close`);
          const pos = res.position || {};
          toast(pos.is_open ? 'Sale placed: the position closes when it fills.' : `Position closed: ${signedMoney(pos.realised_pnl, quoteOf(p.symbol))} realised.`, 'success');
          if (onClosed) onClosed(res);
        });
      },
    }, 'Close');
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Shared renderers
  const PRICE_SOURCES = { simulated: 'Simulated feed', live: 'Live data (paper)', exchange: 'Exchange fill' };

  /** A bot's name as a link to its page (/bots/<id>); "Manual" for a trade no bot placed. */
  function botLink(id, name, testid = 'bot-link') {
    if (!id) return h('span', { class: 'muted' }, 'Manual');
    return h('a', { href: `/bots/${encodeURIComponent(id)}`, testid, dataset: { botId: id } }, name || 'Bot');
  }

  /** One trade as a table row. A buy opens (or adds to) a position and realises nothing: its P&L reads "—", not 0.00.
   * withBot: a bot column (botNames maps bot ids to names when the trade carries no bot_name). */
  function tradeRow(t, { withExchange = false, withFee = false, withSource = false, withBot = false, withCost = false, botNames = null } = {}) {
    const ccy = quoteOf(t.symbol);
    const pl = t.profit_loss !== undefined ? t.profit_loss : t.profit;
    const opening = t.side === 'buy';
    const cost = t.cost !== undefined ? t.cost : (t.price !== undefined && t.amount !== undefined ? Number(t.price) * Number(t.amount) : undefined);
    return h('tr', { testid: 'trade-row', dataset: { id: t.id || '', botId: t.bot_id || '' } },
      h('td', { 'data-label': 'Time' }, when(t.timestamp || t.created_at || new Date().toISOString())),
      withBot ? h('td', { 'data-label': 'Bot', testid: 'trade-bot' },
        botLink(t.bot_id, t.bot_name || (botNames && botNames.get(t.bot_id)), 'trade-bot-link')) : null,
      withExchange ? h('td', { 'data-label': 'Exchange' }, t.exchange || '—') : null,
      h('td', { 'data-label': 'Pair' }, t.symbol || '—'),
      h('td', { 'data-label': 'Side', title: t.reason || null }, badge(t.side || '—', t.side)), // why: signal, exit, manual
      h('td', { class: 'r', 'data-label': 'Amount' }, number(t.amount, 0, 8)),
      h('td', { class: 'r', 'data-label': 'Price' }, t.price !== undefined ? money(t.price, ccy) : '—'),
      withCost ? h('td', { class: 'r', 'data-label': 'Cost', testid: 'trade-cost' }, cost !== undefined ? money(cost, ccy) : '—') : null,
      withFee ? h('td', { class: 'r', 'data-label': 'Fee' }, t.fee !== undefined ? money(t.fee, t.fee_currency || ccy) : '—') : null,
      withSource ? h('td', { 'data-label': 'Priced by', testid: 'trade-source', dataset: { source: t.price_source || '' } },
        PRICE_SOURCES[t.price_source] || '—') : null,
      h('td', { class: `r ${opening ? '' : cls(pl)}`, 'data-label': 'P&L', testid: 'trade-pl', title: opening ? 'Opens a position: no realised P&L' : null },
        opening || pl === undefined || pl === null ? '—' : signedMoney(pl, ccy)));
  }

  /** "3d 4h", "2h 5m", "45s": how long a round trip lasted. */
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    const s = Math.max(0, Math.round(Number(seconds)));
    const d = Math.floor(s / 86400); const hh = Math.floor((s % 86400) / 3600); const m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${m}m`;
    if (m) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }

  /** One round trip (entry → exit) as a table row; an open one says so. withBot: a bot column first. */
  function roundTripRow(r, { withBot = false } = {}) {
    const ccy = quoteOf(r.symbol);
    const open = r.status === 'open';
    return h('tr', { testid: 'round-trip-row', dataset: { id: r.id, status: r.status } },
      withBot ? h('td', { 'data-label': 'Bot' }, botLink(r.bot_id, r.bot_name, 'round-trip-bot-link'), h('span', { class: 'sub' }, r.symbol)) : null,
      h('td', { 'data-label': 'Entry' }, r.entry_at ? when(r.entry_at) : '—'),
      h('td', { class: 'r', 'data-label': 'Entry price' }, money(r.entry_price, ccy)),
      h('td', { 'data-label': 'Exit', testid: 'round-trip-exit' }, open ? badge('open', 'created') : when(r.exit_at)),
      h('td', { class: 'r', 'data-label': 'Exit price' }, r.exit_price === null ? '—' : money(r.exit_price, ccy)),
      h('td', { class: 'r', 'data-label': 'Amount' }, number(r.amount, 0, 8)),
      h('td', { 'data-label': 'Duration' }, open ? '—' : duration(r.duration_seconds)),
      h('td', { class: 'r', 'data-label': 'Fees' }, money(r.fees, r.fee_currency || ccy)),
      h('td', { class: `r ${cls(r.profit_loss)}`, 'data-label': 'P&L', testid: 'round-trip-pl' },
        open && !Number(r.profit_loss) ? '—' : signedMoney(r.profit_loss, ccy),
        r.profit_pct === null || (open && !Number(r.profit_loss)) ? null : h('span', { class: 'sub' }, pct(r.profit_pct))));
  }

  /** Cumulative realised P&L as an SVG line chart (no libraries). points: [{t: Date, v: Number}] ascending. */
  function drawPnlChart(box, points, currency) {
    box.replaceChildren();
    if (points.length < 2) {
      box.append(h('div', { class: 'empty-chart', testid: 'chart-empty' }, 'Your P&L curve appears after your first trades.'));
      return;
    }
    const W = 600; const H = 240; const L = 8; const R = 8; const TOP = 14; const B = 22;
    const vals = points.map((p) => p.v);
    let lo = Math.min(0, ...vals); let hi = Math.max(0, ...vals);
    if (hi === lo) { hi += 1; lo -= 1; }
    const t0 = points[0].t.getTime(); const t1 = points[points.length - 1].t.getTime();
    const x = (i, p) => L + (t1 > t0 ? (p.t.getTime() - t0) / (t1 - t0) : i / (points.length - 1)) * (W - L - R);
    const y = (v) => TOP + (hi - v) / (hi - lo) * (H - TOP - B);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const el = (tag, attrs, text) => {
      const e = document.createElementNS(ns, tag);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const last = vals[vals.length - 1];
    svg.setAttribute('aria-label', `Cumulative profit and loss: ${money(last, currency)}`);
    const color = last >= 0 ? '#15803d' : '#b91c1c';
    const coords = points.map((p, i) => `${x(i, p).toFixed(1)},${y(p.v).toFixed(1)}`);
    el('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'zero' });
    el('path', { d: `M${coords[0]} L${coords.join(' L')} L${x(points.length - 1, points[points.length - 1]).toFixed(1)},${y(0)} L${x(0, points[0]).toFixed(1)},${y(0)} Z`,
      fill: color, 'fill-opacity': '0.08', stroke: 'none' });
    el('polyline', { points: coords.join(' '), fill: 'none', stroke: color, 'stroke-width': '2', 'vector-effect': 'non-scaling-stroke',
      'stroke-linejoin': 'round', 'data-testid': 'chart-line', 'data-points': String(points.length) });
    box.append(svg);
    const legend = h('div', { class: 'chart-legend muted small' },
      h('span', {}, shortWhen(points[0].t)), h('span', { class: cls(last), testid: 'chart-total' }, signedMoney(last, currency)),
      h('span', {}, shortWhen(points[points.length - 1].t)));
    box.append(legend);
    svg.style.height = 'calc(100% - 22px)';
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Pages
  window.amarktai = window.amarktai || {};
  const pages = window.amarktai.pages = window.amarktai.pages || {};

  pages.login = () => {
    const form = T('login-form');
    const flash = sessionStorage.getItem('amk.flash');
    if (flash) { $('.form-error', form).textContent = flash; sessionStorage.removeItem('amk.flash'); }
    T('login-use-backup').addEventListener('click', (ev) => { // backup codes have letters: a text keyboard
      const input = T('login-totp');
      input.inputMode = 'text';
      input.placeholder = 'xxxxx-xxxxx';
      ev.currentTarget.hidden = true;
      input.focus();
    });
    onSubmit(form, async (data) => {
      const body = { email: data.email, password: data.password };
      const totpStep = T('totp-step');
      if (!totpStep.hidden && data.totp_code) body.totp_code = data.totp_code;
      try {
        const res = await api('POST', 'auth/login', body, { auth: false });
        session.save(res);
        const next = new URLSearchParams(location.search).get('next');
        location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/dashboard');
      } catch (err) {
        if (err.details && err.details.two_factor_required) {
          const first = totpStep.hidden;
          totpStep.hidden = false;
          T('login-totp').focus();
          if (first && !body.totp_code) return; // just ask for the code
          if (!err.details.totp_code) err.details = { ...err.details, totp_code: [err.message] };
        }
        throw err;
      }
    });
  };

  pages.signup = () => {
    onSubmit(T('signup-form'), async (data) => {
      const body = { email: data.email, password: data.password, first_name: data.first_name };
      if (data.invite_code) body.invite_code = data.invite_code;
      const res = await api('POST', 'auth/register', body, { auth: false });
      session.save(res);
      location.assign('/security/two-factor?welcome=1');
    });
  };

  // pages.two_factor: static/portal/pages/two_factor.js

  // pages.dashboard: static/portal/pages/dashboard.js

  pages.bots = async () => {
    const form = T('bot-form');
    const list = await platforms().catch((e) => { pageError(e, 'the exchange catalogue'); return []; });
    const exSel = T('bot-exchange');
    fillPlatformSelect(exSel, list);
    const onExchange = () => {
      const p = list.find((x) => x.id === exSel.value);
      T('bot-symbol').replaceChildren(...((p && p.symbols) || []).map((s) => h('option', { value: s }, s)));
      T('bot-capital-ccy').textContent = p && p.quote_currency ? `(${p.quote_currency})` : '';
    };
    exSel.addEventListener('change', onExchange);
    onExchange();
    // Strategies and their parameter inputs come from GET /api/strategies (static/portal/pages/bot_form.js).
    const strategyForm = await window.amarktai.botForm.setup(form).catch((e) => { pageError(e, 'the strategies'); return null; });
    if (location.hash === '#new') T('bot-name').focus();
    // New-bot defaults from the user's settings (Settings → Trading and risk).
    await GET('config').then(({ config }) => {
      const d = config.user.trading || {};
      if (list.some((p) => p.id === d.default_exchange)) { exSel.value = d.default_exchange; onExchange(); }
      if (d.default_strategy && strategyForm && strategyForm.strategy(d.default_strategy)) { T('bot-strategy').value = d.default_strategy; strategyForm.render(); }
      if (d.default_trading_mode) T('bot-mode').value = d.default_trading_mode;
      if (d.default_capital) T('bot-capital').value = String(d.default_capital);
      if ((config.user.risk || {}).default_risk_mode) T('bot-risk').value = config.user.risk.default_risk_mode;
    }).catch(() => {});

    const bots = new Map();
    const positions = new Map(); // bot id -> its open position (GET /api/positions)
    // What a row shows: a row whose bot and position show the same is kept as it is (with its buttons), so the ticks'
    // bot_update/pnl_update and list reloads never replace a button under a click that is landing on it.
    const shown = (b) => {
      const p = positions.get(b.id);
      return JSON.stringify([b.name, b.symbol, b.strategy, b.risk_mode, b.exchange, b.status, b.trading_mode, b.admin_lock || null,
        b.last_error || '', b.risk_block || '', b.current_capital, b.total_profit, b.profit_percentage,
        p ? [p.id, positionLabel(p), p.unrealised_pnl] : null]);
    };
    function row(b) {
      const ccy = quoteOf(b.symbol) || (list.find((p) => p.id === b.exchange) || {}).quote_currency;
      const err = h('span', { class: 'field-error', testid: 'bot-row-error' });
      const actions = h('span', { class: 'actions' });
      const pos = positions.get(b.id);
      const lock = b.admin_lock;
      const tr = h('tr', { testid: 'bot-row', dataset: { id: b.id, status: b.status, shown: shown(b) } },
        h('td', {}, h('a', { href: `/bots/${encodeURIComponent(b.id)}`, testid: 'bot-row-link' }, h('b', { testid: 'bot-row-name' }, b.name)),
          h('span', { class: 'sub' }, [b.symbol, b.strategy, b.risk_mode].filter(Boolean).join(' · ')),
          pos ? h('span', { class: 'sub', testid: 'bot-position' }, `Open position: ${positionLabel(pos)} · `,
            h('span', { class: cls(pos.unrealised_pnl) }, `${signedMoney(pos.unrealised_pnl, ccy)} unrealised`)) : null,
          lock ? h('span', { class: 'sub lock-note', testid: 'bot-lock' },
            `Paused by ${lock.paused_by}${lock.reason ? `: ${lock.reason}` : ''}. Only an administrator can resume it.`) : null,
          b.last_error ? h('span', { class: 'sub down' }, b.last_error) : null,
          b.risk_block ? h('span', { class: 'sub down', testid: 'bot-risk-block' }, b.risk_block) : null, err),
        h('td', {}, (list.find((p) => p.id === b.exchange) || {}).display_name || b.exchange),
        h('td', {}, badge(b.status, b.status, 'bot-row-status'), ' ', badge(b.trading_mode || 'paper'),
          lock ? [' ', badge('locked by admin', 'stopped', 'bot-locked')] : null),
        h('td', { class: 'r' }, money(b.current_capital, ccy)),
        h('td', { class: `r ${cls(b.total_profit)}` }, signedMoney(b.total_profit, ccy), h('span', { class: 'sub' }, pct(b.profit_percentage))),
        h('td', { class: 'r' }, actions));
      if (pos) {
        actions.append(closePositionButton(pos, { botName: b.name, slot: err, onClosed: () => loadPositions().then(render).catch(() => {}) }));
      }
      if (b.status === 'active' || b.status === 'created') {
        actions.append(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'bot-pause',
          onclick: async (ev) => {
            const btn = ev.currentTarget;
            const held = positions.get(b.id);
            if (held && !(await confirmDialog({ title: `Pause ${b.name}?`, confirmLabel: 'Pause bot', danger: false, testid: 'pause-dialog',
              body: [`${b.name} places no new orders while paused.`,
                `Its open position, ${positionLabel(held)}, stays open, and its stop loss and take profit are not watched while the bot is paused. Close the position as well if you want out.`] }))) return;
            await act(btn, err, async () => { const r = await POST(`bots/${b.id}/pause`); update(b.id, { status: r.status }); });
          } }, 'Pause'));
      } else if (!lock) {
        actions.append(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'bot-resume',
          onclick: (ev) => act(ev.currentTarget, err, async () => { const r = await POST(`bots/${b.id}/resume`); update(b.id, { status: r.status }); }) }, 'Resume'));
      }
      actions.append(h('button', { type: 'button', class: 'btn btn-danger btn-sm', testid: 'bot-delete',
        onclick: async (ev) => {
          const btn = ev.currentTarget;
          const held = positions.get(b.id);
          const body = held
            ? [`${b.name} first sells its open position, ${positionLabel(held)}, at market; the profit or loss is booked to the bot. Then the bot is deleted.`,
              'If the sale cannot be placed, nothing is deleted. If it has not filled yet, the bot is stopped instead: delete it again once the sale has filled.',
              'Its trades stay in your history.']
            : [`${b.name} holds no open position. The bot is deleted; its trades stay in your history.`];
          if (!(await confirmDialog({ title: `Delete ${b.name}?`, body, confirmLabel: 'Delete bot', testid: 'delete-dialog' }))) return;
          await act(btn, err, async () => {
            await DEL(`bots/${b.id}`);
            bots.delete(b.id);
            positions.delete(b.id);
            render();
            toast(`Bot “${b.name}” deleted.`, 'success');
          });
        } }, 'Delete'));
      return tr;
    }
    function render() {
      const all = Array.from(bots.values());
      const body = T('bots-list');
      const current = Array.from(body.children);
      const byId = new Map(current.map((tr) => [tr.dataset.id, tr]));
      const rows = all.map((b) => { const old = byId.get(b.id); return old && old.dataset.shown === shown(b) ? old : row(b); });
      if (rows.length !== current.length || rows.some((tr, i) => tr !== current[i])) body.replaceChildren(...rows);
      T('bots-empty').hidden = all.length > 0;
      T('bots-count').textContent = all.length ? `${all.filter((b) => b.status === 'active').length} active of ${all.length}` : '';
    }
    function update(id, patch) {
      const b = bots.get(id);
      if (!b) return;
      bots.set(id, { ...b, ...patch });
      const old = $(`[data-testid="bot-row"][data-id="${CSS.escape(id)}"]`);
      if (!old) render();
      else if (old.dataset.shown !== shown(bots.get(id))) old.replaceWith(row(bots.get(id)));
      T('bots-count').textContent = `${Array.from(bots.values()).filter((x) => x.status === 'active').length} active of ${bots.size}`;
    }
    async function loadPositions() {
      const data = await GET('positions');
      positions.clear();
      (data.positions || []).forEach((p) => { if (p.bot_id) positions.set(p.bot_id, p); });
    }
    async function load() {
      const [data] = await Promise.all([GET('bots'), loadPositions().catch(failedTo('your open positions'))]);
      bots.clear();
      (data.bots || []).forEach((b) => bots.set(b.id, b));
      render();
    }
    await load().catch(failedTo('your bots'));

    onSubmit(form, async (data) => {
      const body = { name: data.name, exchange: data.exchange, symbol: data.symbol, strategy: data.strategy,
        risk_mode: data.risk_mode, trading_mode: data.trading_mode, initial_capital: data.initial_capital === '' ? null : Number(data.initial_capital) };
      if (!data.name) { showErrors(form, new ApiError(400, { error: 'Give your bot a name', details: { name: ['Required.'] } })); return; }
      if (!(Number(data.initial_capital) > 0)) { showErrors(form, new ApiError(400, { error: 'Capital must be more than 0', details: { initial_capital: ['Enter an amount greater than 0.'] } })); return; }
      if (strategyForm) {
        const { params, errors } = strategyForm.read();
        if (Object.keys(errors).length) { showErrors(form, new ApiError(400, { error: 'Check the strategy parameters', details: errors })); return; }
        if (Object.keys(params).length) body.params = params;
      }
      const res = await POST('bots', body);
      toast(`Bot “${res.bot ? res.bot.name : data.name}” created.`, 'success');
      if (res.webhook_url) window.amarktai.botForm.showWebhook(res.webhook_url, data.symbol);
      form.reset();
      onExchange();
      if (strategyForm) strategyForm.render();
      await load();
    });

    live.on('bot_update', (m) => {
      if (bots.has(m.bot_id)) update(m.bot_id, { ...(m.data || {}), status: m.status });
      else if (!(session.user || {}).is_admin) load().catch(() => {});
    });
    live.on('pnl_update', (m) => {
      if (bots.has(m.bot_id)) update(m.bot_id, { total_profit: m.total_profit, current_capital: m.current_capital, profit_percentage: m.profit_percentage });
    });
    const refreshPositions = debounce(() => loadPositions().then(render).catch(() => {}), 400);
    live.on('trade_executed', (m) => { if (m.trade && bots.has(m.trade.bot_id)) refreshPositions(); });
    live.on('position_update', refreshPositions);
    live.on('reconnect', () => load().catch(() => {}));
  };

  pages.wallet = async () => {
    const list = await platforms().catch(() => []);
    fillPlatformSelect(T('transfer-from'), list);
    fillPlatformSelect(T('transfer-to'), list);
    if (list.length > 1) T('transfer-to').value = list[1].id;
    T('transfer-currency').value = (session.user && session.user.currency) || 'ZAR';
    const name = (id) => (list.find((p) => p.id === id) || {}).display_name || id;

    async function loadBalances() {
      const data = await GET('wallet/balances');
      const balances = data.balances || {};
      const boxes = Object.entries(balances).map(([provider, ccys]) => h('div', { class: 'balance-box', testid: 'balance-box', dataset: { provider } },
        h('h3', {}, name(provider)),
        h('dl', {}, Object.entries(ccys || {}).flatMap(([c, amt]) => {
          const detail = amt && typeof amt === 'object' ? (amt.total ?? amt.free) : amt;
          return [h('dt', {}, c), h('dd', {}, /^(ZAR|USD|EUR|GBP|USDT|USDC)$/.test(c) ? money(detail, c) : number(detail, 0, 8))];
        }))));
      T('balances').replaceChildren(...boxes);
      T('balances-empty').hidden = boxes.length > 0;
      // Totals in the user's base currency, with the same conversion as the dashboard's total capital.
      const ccy = data.currency || 'ZAR';
      T('wallet-total').textContent = money(data.total_value ?? data.total_value_zar, ccy);
      T('wallet-allocated').textContent = money(data.allocated_to_bots, ccy);
      T('wallet-unallocated').textContent = money(data.unallocated, ccy);
      const rates = Object.entries(data.rates || {}).filter(([c]) => c !== ccy).map(([c, r]) => `1 ${c} = ${money(r, ccy)}`);
      T('wallet-valuation-note').textContent = `Totals in ${ccy}${rates.length ? ` at current rates: ${rates.join(' · ')}` : ''}. `
        + "The dashboard's Total capital is your bots' capital, converted the same way; Total value here is everything the accounts hold.";
      const unpriced = Object.entries(data.unpriced || {});
      T('unpriced').hidden = !unpriced.length;
      T('unpriced').textContent = unpriced.length ? `Not included in the totals (no price available): ${unpriced.map(([c, f]) => `${number(f.total_value ?? Object.values(f)[0], 0, 8)} ${c}`).join(', ')}` : '';
      const alloc = Object.entries(data.allocations || {}).flatMap(([p, ccys]) => Object.entries(ccys).map(([c, r]) => h('tr', { testid: 'allocation-row', dataset: { provider: p, currency: c } },
        h('td', { 'data-label': 'Exchange' }, name(p)), h('td', { 'data-label': 'Currency' }, c),
        h('td', { class: 'r', 'data-label': 'Free' }, money(r.free, c)),
        h('td', { class: 'r', 'data-label': 'Allocated to bots', testid: 'allocation-allocated' }, money(r.allocated, c)),
        h('td', { class: 'r', 'data-label': 'In open positions' }, money(r.in_positions, c)),
        h('td', { class: `r ${Number(r.unallocated) < 0 ? 'down' : ''}`, 'data-label': 'Not allocated', testid: 'allocation-free' }, money(r.unallocated, c)),
        h('td', { class: 'r', 'data-label': 'Bots' }, number(r.bots)))));
      T('allocations-list').replaceChildren(...alloc);
      T('allocations-empty').hidden = alloc.length > 0;
      const source = data.source || data.mode;
      T('wallet-source').textContent = source === 'paper' ? 'Paper balances (testing mode)' : source === 'live' ? 'Live exchange balances' : (source || '');
      const errs = data.errors || {};
      const errList = Array.isArray(errs) ? errs : Object.entries(errs).map(([p, m]) => `${name(p)}: ${m}`);
      T('balance-errors').textContent = errList.length ? `Some exchanges could not be read — ${errList.join('; ')}` : '';
    }
    async function loadTransfers() {
      const transfers = (await GET('wallet/transfers')).transfers || [];
      T('transfers-list').replaceChildren(...transfers.map((t) => {
        const err = h('span', { class: 'field-error', testid: 'transfer-row-error' });
        const step = (label, path, testid, cls) => h('button', { type: 'button', class: cls, testid,
          onclick: (ev) => act(ev.currentTarget, err, async () => { await POST(`wallet/transfers/${t.id}/${path}`); await Promise.allSettled([loadTransfers(), loadBalances()]); }) }, label);
        return h('tr', { testid: 'transfer-row', dataset: { id: t.id, status: t.status } },
          h('td', {}, when(t.timestamp || t.created_at)),
          h('td', {}, `${name(t.from_provider)} → ${name(t.to_provider)}`, t.reason ? h('span', { class: 'sub' }, t.reason.replace(/_/g, ' ')) : null),
          h('td', { class: 'r' }, /^(ZAR|USD|EUR|GBP|USDT|USDC)$/.test(t.currency) ? money(t.amount, t.currency) : `${number(t.amount, 0, 8)} ${t.currency}`),
          h('td', { class: 'wrap' }, badge(t.status, t.status), t.status_description ? h('span', { class: 'sub', testid: 'transfer-status-text' }, t.status_description) : null, err),
          h('td', { class: 'r' }, t.status === 'pending' ? h('span', { class: 'actions actions-stack' },
            step('Mark completed', 'complete', 'transfer-complete', 'btn btn-ghost btn-sm'),
            step('Cancel', 'cancel', 'transfer-cancel', 'btn btn-danger btn-sm')) : ''));
      }));
      T('transfers-empty').hidden = transfers.length > 0;
    }
    function showPair() {
      const from = list.find((p) => p.id === T('transfer-from').value) || {};
      const to = list.find((p) => p.id === T('transfer-to').value) || {};
      const both = (from.currencies || []).filter((c) => (to.currencies || []).includes(c));
      T('transfer-currencies').replaceChildren(...both.map((c) => h('option', { value: c })));
      T('transfer-pair-hint').textContent = from.id && to.id && from.id !== to.id
        ? (both.length ? `${from.display_name} and ${to.display_name} both hold: ${both.join(', ')}.` : `${from.display_name} and ${to.display_name} hold no currency in common.`)
        : '';
    }
    T('transfer-from').addEventListener('change', showPair);
    T('transfer-to').addEventListener('change', showPair);
    showPair();
    await Promise.all([loadBalances().catch(failedTo('balances')), loadTransfers().catch(failedTo('transfers'))]);
    const refreshBalances = debounce(() => loadBalances().catch(() => {}), 800);
    live.on('trade_executed', refreshBalances);
    live.on('bot_update', refreshBalances);

    onSubmit(T('transfer-form'), async (data, form) => {
      const amount = Number(data.amount);
      if (!(amount > 0)) { showErrors(form, new ApiError(400, { error: 'Enter an amount greater than 0', details: { amount: ['Enter an amount greater than 0.'] } })); return; }
      const res = await POST('wallet/transfer', { from_provider: data.from_provider, to_provider: data.to_provider, amount,
        currency: data.currency.toUpperCase(), reason: data.reason || 'manual_allocation' });
      T('transfer-ok').textContent = (res.transfer && res.transfer.message) || 'Transfer recorded.';
      form.elements.amount.value = '';
      await Promise.allSettled([loadTransfers(), loadBalances()]);
    });
  };

  pages.assistant = async () => {
    const log = T('chat-log');
    const form = T('chat-form');
    const input = T('chat-input');
    const scroll = () => { log.scrollTop = log.scrollHeight; };

    function message(role, content, timestamp, actions) {
      const box = h('div', { class: `msg msg-${role}`, testid: `chat-msg-${role}` }, h('span', { class: 'msg-text' }, content),
        h('span', { class: 'msg-time' }, when(timestamp || new Date().toISOString())));
      (actions || []).forEach((a) => {
        if (!a.confirmation_token) return;
        const err = h('span', { class: 'field-error', testid: 'chat-action-error' });
        const wrap = h('div', { class: 'confirm', testid: 'chat-action' }, h('span', { class: 'desc' }, a.description || a.type));
        const confirm = h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'chat-confirm' }, 'Confirm');
        const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'chat-cancel' }, 'Cancel');
        confirm.addEventListener('click', () => act(confirm, err, async () => {
          const res = await POST('ai/chat', { confirm: a.confirmation_token });
          confirm.remove(); cancel.remove();
          wrap.append(h('span', { class: 'badge badge-active' }, 'Confirmed'));
          log.append(message('assistant', res.response, res.timestamp, res.actions));
          scroll();
        }));
        cancel.addEventListener('click', () => {
          confirm.remove(); cancel.remove();
          wrap.append(h('span', { class: 'badge' }, 'Cancelled'));
        });
        if (a.expires_at) wrap.append(h('span', { class: 'muted small' }, `Expires ${when(a.expires_at)}`));
        wrap.append(confirm, cancel, err);
        box.append(wrap);
      });
      return box;
    }

    POST('ai/chat/greeting').then((g) => {
      const r = g.daily_report || {};
      const box = T('daily-report');
      box.replaceChildren(h('h3', { testid: 'chat-greeting' }, g.greeting || 'Welcome back!'),
        r.summary ? h('p', { style: 'margin:0' }, r.summary) : null,
        (r.highlights || []).length ? h('ul', {}, r.highlights.map((x) => h('li', {}, x))) : null);
      box.hidden = false;
    }).catch(() => {});
    try {
      const history = (await GET('ai/chat/history?limit=50')).messages || [];
      log.replaceChildren(...history.map((m) => message(m.role === 'user' ? 'user' : 'assistant', m.content, m.timestamp)));
      scroll();
    } catch (e) { pageError(e, 'the conversation'); }

    async function send(text) {
      if (!text) return;
      T('chat-error').textContent = '';
      log.append(message('user', text));
      scroll();
      input.value = '';
      T('chat-send').disabled = true;
      const thinking = h('div', { class: 'msg msg-assistant muted', testid: 'chat-thinking' }, '…');
      log.append(thinking);
      try {
        const res = await POST('ai/chat', { message: text });
        thinking.remove();
        log.append(message('assistant', res.response, res.timestamp, res.actions));
      } catch (err) {
        thinking.remove();
        T('chat-error').textContent = err.message;
      } finally {
        T('chat-send').disabled = false;
        scroll();
        input.focus();
      }
    }
    form.addEventListener('submit', (ev) => { ev.preventDefault(); send(input.value.trim()); });
    $$('[data-suggest]').forEach((b) => b.addEventListener('click', () => send(b.dataset.suggest)));
  };

  // Exchange key safety on the settings page's key form: the testnet box (platforms whose exchange has a sandbox),
  // the accept-withdraw box, and what a tested key may do (read / trade / withdraw, as the exchange reported it).
  function exkeySafety(list) {
    const perms = (p) => {
      if (!p) return 'The exchange does not say what these keys may do.';
      const can = ['read', 'trade', 'withdraw'].filter((n) => p[n]);
      return `These keys may: ${can.length ? can.join(', ') : 'nothing'}${p.withdraw ? ' (including withdrawals!)' : ''}.`;
    };
    const show = (p) => { const el = T('exkey-permissions'); el.textContent = perms(p); el.hidden = false; };
    return {
      onProvider(id) {
        const p = list.find((x) => x.id === id);
        const field = T('exkey-testnet-field');
        field.hidden = !(p && p.supports_testnet);
        if (field.hidden) field.querySelector('input').checked = false;
        T('exkey-permissions').hidden = true;
      },
      body(b, form) {
        if (form.elements.testnet && !T('exkey-testnet-field').hidden && form.elements.testnet.checked) b.testnet = true;
        if (form.elements.accept_withdraw && form.elements.accept_withdraw.checked) b.accept_withdraw = true;
        return b;
      },
      tested(res) { show(res.permissions); },
      rowCell(k, reload, err) {
        const p = k.permissions;
        const cell = h('td', { testid: 'exkey-row-permissions' });
        if (k.testnet) cell.append(badge('testnet', 'paper', 'exkey-row-testnet'), ' ');
        if (p) cell.append(...['read', 'trade', 'withdraw'].filter((n) => p[n]).map((n) => badge(n, n === 'withdraw' ? 'invalid' : 'valid', `exkey-perm-${n}`)));
        else cell.append(h('span', { class: 'muted small' }, k.keys_valid == null ? 'test to see' : 'not reported'));
        if (p && p.withdraw && !k.withdraw_accepted) {
          cell.append(' ', armedButton('Accept withdraw', 'Confirm: keys can withdraw', 'exkey-row-accept-withdraw', (btn) => act(btn, err, async () => {
            await api('PATCH', `keys/${k.id}`, { accept_withdraw: true });
            await POST('keys/test', { credential_id: k.id });
            await reload();
          })));
        }
        return cell;
      },
    };
  }

  pages.settings = async () => {
    const user = (await GET('auth/me').catch(() => ({}))).user || session.user || {};
    session.save({ user });
    T('security-2fa-status').textContent = user.two_factor_enabled
      ? 'Two-factor authentication is on.' : 'Two-factor authentication is off. Turn it on to protect your account (required for live trading).';
    if (user.two_factor_enabled) {
      GET('auth/2fa/backup-codes').then((b) => {
        T('security-2fa-status').textContent = `Two-factor authentication is on. ${b.remaining} of ${b.total} backup codes left.`;
      }).catch(() => {});
    }

    // Base currency: every total (dashboard, wallet, assistant) is converted into it.
    const ccyForm = T('currency-form');
    ccyForm.elements.currency.value = user.currency || 'ZAR';
    onSubmit(ccyForm, async (data) => {
      const res = await api('PATCH', 'auth/me', { currency: data.currency });
      session.save({ user: res.user });
      toast(`Totals are now shown in ${res.user.currency}.`, 'success');
    });

    // System mode
    const modeForm = T('mode-form');
    GET('system/mode').then((m) => { const r = T(`mode-${m.mode}`); if (r) r.checked = true; }).catch((e) => { $('.form-error', modeForm).textContent = e.message; });
    onSubmit(modeForm, async (data) => {
      if (!data.mode) throw new ApiError(400, { error: 'Choose a mode', details: { mode: ['Choose a mode.'] } });
      const res = await POST('system/mode', { mode: data.mode });
      session.save({ user: { system_mode: res.mode } });
      showModePill();
      toast(`Mode set to ${res.mode.replace('_', ' ')}.`, 'success');
    });

    // Exchange keys
    const list = await platforms().catch(() => []);
    const provSel = T('exkey-provider');
    fillPlatformSelect(provSel, list);
    const safety = exkeySafety(list);
    const onProvider = () => { const p = list.find((x) => x.id === provSel.value); T('exkey-passphrase-field').hidden = !(p && p.id === 'kucoin'); safety.onProvider(provSel.value); };
    provSel.addEventListener('change', onProvider);
    onProvider();
    const exForm = T('exkey-form');
    // The provider's own credential fields and its need for a secret (static/portal/pages/settings_keys.js).
    const keyFields = window.amarktai.keyFields ? window.amarktai.keyFields.attach(exForm, provSel) : null;
    if (keyFields) await keyFields.loaded;

    async function loadKeys() {
      const data = await GET('keys');
      const keys = data.keys || data.credentials || data.items || [];
      T('exkeys-list').replaceChildren(...keys.map((k) => {
        const platform = k.platform || k.provider || k.exchange;
        const err = h('span', { class: 'field-error', testid: 'exkey-row-error' });
        const status = k.keys_valid === true ? 'valid' : k.keys_valid === false ? 'invalid' : 'untested';
        const statusCell = h('td', {}, badge(status, status, 'exkey-row-status'));
        const testBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'exkey-row-test' }, 'Test');
        const permCell = safety.rowCell(k, loadKeys, err);
        testBtn.addEventListener('click', () => act(testBtn, err, async () => {
          try {
            await POST('keys/test', { provider: platform, credential_id: k.id });
            statusCell.replaceChildren(badge('valid', 'valid', 'exkey-row-status'));
          } catch (e) {
            if (e.code === 'AUTH_INVALID' || e.status === 400) statusCell.replaceChildren(badge('invalid', 'invalid', 'exkey-row-status'));
            GET(`keys/${k.id}`).then((d) => permCell.replaceWith(safety.rowCell(d.key, loadKeys, err))).catch(() => {});
            throw e;
          }
          await loadKeys();
        }));
        return h('tr', { testid: 'exkey-row', dataset: { id: k.id } },
          h('td', {}, (list.find((p) => p.id === platform) || {}).display_name || platform),
          h('td', {}, k.label || '—', keyFields ? window.amarktai.keyFields.settingsText(k, keyFields.providers()) : null),
          h('td', {}, h('code', {}, k.api_key_masked || k.masked_key || k.api_key || (k.last4 ? `****${k.last4}` : '****'))),
          statusCell,
          permCell,
          h('td', { class: 'r' }, h('span', { class: 'actions' }, testBtn,
            armedButton('Delete', 'Confirm delete', 'exkey-row-delete', (btn) => act(btn, err, async () => { await DEL(`keys/${k.id}`); await loadKeys(); }))), err));
      }));
      T('exkeys-empty').hidden = keys.length > 0;
    }
    loadKeys().catch((e) => { T('exkeys-empty').hidden = false; T('exkeys-empty').textContent = `Could not load exchange keys: ${e.message}`; });
    const keyBody = (data) => {
      const b = { provider: data.provider, platform: data.provider, label: data.label, api_key: data.api_key, api_secret: data.api_secret };
      if (!T('exkey-passphrase-field').hidden) b.passphrase = data.passphrase;
      return safety.body(keyFields ? keyFields.apply(b) : b, exForm);
    };
    onSubmit(exForm, async (data, form) => {
      await POST('keys', keyBody(data));
      ['api_key', 'api_secret', 'passphrase', 'label'].forEach((n) => { if (form.elements[n]) form.elements[n].value = ''; });
      if (keyFields) keyFields.clear();
      ['testnet', 'accept_withdraw'].forEach((n) => { if (form.elements[n]) form.elements[n].checked = false; });
      T('exkey-ok').textContent = 'Keys saved (encrypted).';
      await loadKeys();
    });
    T('exkey-test').addEventListener('click', async (ev) => {
      clearErrors(exForm);
      const btn = ev.currentTarget;
      btn.disabled = true;
      try {
        const res = await POST('keys/test', keyBody(formData(exForm)));
        T('exkey-ok').textContent = [res.message || 'API keys are valid', res.account].filter(Boolean).join(': ');
        safety.tested(res);
      } catch (err) {
        showErrors(exForm, err);
      } finally {
        btn.disabled = false;
      }
    });

    // API keys
    async function loadApiKeys() {
      const keys = (await GET('auth/api-keys')).api_keys || [];
      T('apikeys-list').replaceChildren(...keys.map((k) => {
        const err = h('span', { class: 'field-error', testid: 'apikey-row-error' });
        return h('tr', { testid: 'apikey-row', dataset: { id: k.id } },
          h('td', {}, k.name, err), h('td', {}, h('code', {}, `${k.prefix}…`)),
          h('td', { testid: 'apikey-scopes' }, (k.scopes || []).join(', ') || '—'), h('td', {}, when(k.created_at)),
          h('td', {}, k.last_used_at ? when(k.last_used_at) : 'Never'),
          h('td', {}, badge(k.active ? 'active' : 'revoked', k.active ? 'active' : 'revoked')),
          h('td', { class: 'r' }, k.active ? armedButton('Revoke', 'Confirm revoke', 'apikey-revoke', (btn) => act(btn, err, async () => {
            await DEL(`auth/api-keys/${k.id}`);
            await loadApiKeys();
          })) : ''));
      }));
      T('apikeys-empty').hidden = keys.length > 0;
    }
    loadApiKeys().catch(failedTo('API keys'));
    onSubmit(T('apikey-form'), async (data, form) => {
      const res = await POST('auth/api-keys', { name: data.name, scopes: form.elements.trade.checked ? ['read', 'trade'] : ['read'] });
      form.elements.trade.checked = false;
      T('apikey-raw').textContent = res.api_key.key;
      T('apikey-new').hidden = false;
      form.elements.name.value = '';
      await loadApiKeys();
    });
  };

  pages.admin_panel = async () => {
    if (!(session.user || {}).is_admin) { pageError(new Error('This page is for administrators.')); return; }
    const bots = new Map();
    // Rows are kept per bot and rebuilt only when what they show changes: with every bot of the platform listed, a
    // bot_update of one bot must not replace the row (and the button) an administrator is clicking in another. The
    // action cell is kept too while its action stays the same (pause for an active bot, release for a locked one).
    const rows = new Map();
    const actionOf = (b) => (b.admin_lock ? 'unlock' : b.status === 'active' || b.status === 'created' ? 'pause' : '');
    const shown = (b) => JSON.stringify([b.name, b.symbol, b.strategy, b.user_email || b.user_id, b.exchange, b.status,
      b.trading_mode, b.total_profit, actionOf(b)]);
    function actionCell(id, err) {
      const b = bots.get(id);
      const kind = actionOf(b);
      if (kind === 'unlock') {
        return h('td', { class: 'r' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'admin-bot-unlock',
          onclick: (ev) => act(ev.currentTarget, err, async () => {
            const r = await POST(`admin/bot/${id}/unlock`, { resume: false });
            bots.set(id, { ...bots.get(id), status: r.status, admin_lock: null });
            renderBots();
          }) }, 'Release'));
      }
      if (kind === 'pause') {
        return h('td', { class: 'r' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'admin-bot-pause',
          onclick: async (ev) => {
            const btn = ev.currentTarget;
            const reason = await confirmDialog({ title: `Pause and lock ${bots.get(id).name}?`, confirmLabel: 'Pause and lock', testid: 'admin-pause-dialog',
              body: 'The owner cannot resume it until an administrator releases it. They see the reason you give.',
              input: { label: 'Reason (shown to the owner)', maxlength: 200 } });
            if (reason === null) return;
            await act(btn, err, async () => {
              const r = await POST(`admin/bot/${id}/pause`, { reason });
              bots.set(id, { ...bots.get(id), status: r.status, admin_lock: { reason } });
              renderBots();
            });
          } }, 'Pause'));
      }
      return h('td', { class: 'r' });
    }
    function botRow(b, old) {
      const err = old ? old.err : h('span', { class: 'field-error', testid: 'admin-bot-error' });
      const action = old && old.action === actionOf(b) ? old.tr.lastElementChild : actionCell(b.id, err);
      const tr = h('tr', { testid: 'admin-bot-row', dataset: { id: b.id } },
        h('td', {}, h('a', { href: `/bots/${encodeURIComponent(b.id)}`, testid: 'admin-bot-link' }, h('b', {}, b.name)), h('span', { class: 'sub' }, [b.symbol, b.strategy].filter(Boolean).join(' · ')), err),
        h('td', {}, b.user_email || b.user_id || '—'),
        h('td', {}, b.exchange),
        h('td', {}, badge(b.status, b.status, 'admin-bot-status'), ' ', badge(b.trading_mode || 'paper')),
        h('td', { class: `r ${cls(b.total_profit)}` }, signedMoney(b.total_profit, quoteOf(b.symbol))),
        action);
      return { tr, err, shown: shown(b), action: actionOf(b) };
    }
    function renderBots() {
      const all = Array.from(bots.values());
      const body = T('admin-bots');
      let before = body.firstChild;
      all.forEach((b) => {
        let row = rows.get(b.id);
        if (!row || row.shown !== shown(b)) {
          const fresh = botRow(b, row);
          if (row) {
            if (before === row.tr) before = row.tr.nextSibling;
            row.tr.remove();
          }
          rows.set(b.id, fresh);
          row = fresh;
        }
        if (row.tr !== before) body.insertBefore(row.tr, before);
        before = row.tr.nextSibling;
      });
      rows.forEach((row, id) => { if (!bots.has(id)) { row.tr.remove(); rows.delete(id); } });
      T('admin-bots-empty').hidden = all.length > 0;
      T('admin-bots-count').textContent = `${all.length} bots`;
    }
    async function load() {
      const [users, allBots] = await Promise.all([GET('admin/users'), GET('admin/bots')]);
      const us = users.users || [];
      T('admin-users').replaceChildren(...us.map((u) => h('tr', { testid: 'admin-user-row' },
        h('td', {}, u.email), h('td', {}, u.first_name || '—'), h('td', {}, u.is_admin ? badge('admin', 'live') : 'User'), h('td', {}, when(u.created_at)))));
      T('admin-users-count').textContent = `${us.length} users`;
      bots.clear();
      (allBots.bots || []).forEach((b) => bots.set(b.id, b));
      renderBots();
    }
    await load().catch(failedTo('the admin lists'));
    live.on('bot_update', (m) => {
      if (bots.has(m.bot_id)) { bots.set(m.bot_id, { ...bots.get(m.bot_id), ...(m.data || {}), status: m.status }); renderBots(); } else load().catch(() => {});
    });
    live.on('reconnect', () => load().catch(() => {}));
  };

  // Shared by the bot page and the trades page (static/portal/pages/bot_detail.js, trades.js).
  Object.assign(window.amarktai, { badge, cls, quoteOf, botLink, duration, roundTripRow });

  // ---------------------------------------------------------------------------------------------------------------
  // Chrome (top bar) and boot
  function showModePill() {
    const pill = T('mode-pill');
    const u = session.user;
    if (!pill || !u || !u.system_mode) return;
    pill.dataset.mode = u.system_mode;
    pill.textContent = { testing: 'Paper', live_trading: 'Live', autopilot: 'Autopilot' }[u.system_mode] || u.system_mode;
    pill.title = `System mode: ${u.system_mode.replace('_', ' ')}`;
    pill.hidden = false;
  }
  /** Up to 1100 px the nav and the account are a panel behind the Menu button (app.css). */
  function setupMenu() {
    const btn = T('menu-toggle');
    const menu = document.getElementById('main-menu');
    if (!btn || !menu) return;
    const setOpen = (open, focusButton) => {
      btn.setAttribute('aria-expanded', String(open));
      menu.classList.toggle('open', open);
      if (!open && focusButton) btn.focus();
    };
    btn.addEventListener('click', () => {
      const open = btn.getAttribute('aria-expanded') !== 'true';
      setOpen(open);
      if (open) { const first = $('a:not([hidden]), button', menu); if (first) first.focus(); }
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && menu.classList.contains('open')) { setOpen(false, true); }
    });
    document.addEventListener('click', (ev) => {
      if (menu.classList.contains('open') && !menu.contains(ev.target) && !btn.contains(ev.target)) setOpen(false);
    });
    menu.addEventListener('click', (ev) => { if (ev.target.closest('a')) setOpen(false); });
    menu.addEventListener('focusout', (ev) => { // tabbing out of the panel closes it
      if (ev.relatedTarget && !menu.contains(ev.relatedTarget) && ev.relatedTarget !== btn) setOpen(false);
    });
    window.addEventListener('pageshow', () => setOpen(false)); // back/forward cache: come back with it closed
    window.matchMedia('(min-width: 1101px)').addEventListener('change', (m) => { if (m.matches) setOpen(false); });
  }
  function showChrome() {
    const u = session.user || {};
    const who = T('user-name');
    if (who) who.textContent = u.first_name || u.email || '';
    const out = T('logout');
    if (out && u.email) out.title = `Signed in as ${u.email}`;
    $$('.admin-only').forEach((el) => { el.hidden = !u.is_admin; });
    showModePill();
  }

  async function boot() {
    const page = document.body.dataset.page;
    const isPublic = document.body.dataset.public === '1';
    const signingIn = page === 'login' || page === 'signup';
    if (!isPublic) T('logout').addEventListener('click', () => logout()); // works while the page is still loading
    // A new tab or a reload: the session cookie gives this page its access token (no password, no 2FA code). A tab
    // from an older portal whose refresh token could not be moved into the cookie keeps its access token until expiry.
    if (signingIn && !session.token) await withRefreshLock(() => postRefresh({})).catch(() => false);
    if (!isPublic && !session.token && !(await refreshToken())) accessToken = sessionStorage.getItem(LEGACY.token);
    markReady(Boolean(session.token) && !isPublic);
    document.dispatchEvent(new CustomEvent('amarktai:ready', { detail: { signedIn: Boolean(session.token) && !isPublic } }));
    if (isPublic) {
      if (session.token && signingIn) { location.replace('/dashboard'); return; }
    } else {
      if (!session.token) { location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`); return; }
      setupMenu();
      watchTables($('main.content'));
      const me = GET('auth/me').then((r) => { session.save({ user: r.user }); showChrome(); }).catch(() => {});
      if (!session.user) await me; // a new tab has no cached user yet: the pages read it
      showChrome();
      live.start();
    }
    const init = pages[page];
    if (!init) { document.body.dataset.ready = '1'; return; } // a page without a controller is ready as it is
    try {
      await init();
    } catch (err) {
      console.error(err);
      pageError(err);
    } finally {
      document.body.dataset.ready = '1';
    }
  }

  // The portal's toolkit, for the per-page scripts in static/portal/pages/ (loaded by their templates' `scripts` block,
  // deferred like this file, so they register in `amarktai.pages` before boot runs on DOMContentLoaded).
  Object.assign(window.amarktai, {
    api, GET, POST, DEL, $, $$, T, h, toast, pageError, failedTo, formData, clearErrors, showErrors, onSubmit, armedButton,
    act, debounce, labelTable, money, number, signedMoney, pct, when, platforms, platformQuote, fillPlatformSelect,
    tradeRow, drawPnlChart, live, session, ready, confirmDialog, positionLabel, closePositionText, closePositionButton,
  });
  document.addEventListener('DOMContentLoaded', boot);
})();
