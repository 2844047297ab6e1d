/* The kill switch in the top bar of every signed-in page: shows whether the user's trading runs (and whether an admin
 * stopped the platform), stops it after a confirmation (with the choice to close positions at market) and starts it
 * again. Reads GET /api/trading/status; acts with POST /api/trading/stop and /start; follows the trading_status and
 * system_status messages of the live feed. Uses the portal's toolkit (window.amarktai, app.js). */
(() => {
  'use strict';

  function init() {
    const A = window.amarktai;
    const btn = A && A.T('killswitch');
    if (!btn || !A.session.token) return;
    let state = { trading: 'running', system: 'running', paused: 0 };

    function render() {
      const stopped = state.trading === 'stopped';
      const halted = state.system === 'stopped';
      btn.dataset.state = stopped ? 'stopped' : 'running';
      btn.dataset.system = state.system;
      const label = halted ? 'System stopped' : stopped ? 'Trading stopped' : 'Trading on';
      // The full label; on a phone the bar shows the short one (data-short, app.css) after a stop/running sign.
      btn.replaceChildren(A.h('span', { class: 'ks-label' }, label));
      btn.dataset.short = halted || stopped ? 'Stopped' : 'Trading';
      btn.title = halted ? 'An administrator stopped trading platform-wide'
        : stopped ? 'Your trading is stopped: click to start it again' : 'Click to stop all your trading';
      btn.setAttribute('aria-label', `${label}. ${btn.title}`);
      btn.hidden = false;
    }

    async function load() {
      const s = await A.GET('trading/status');
      state = { trading: s.trading.status, system: (s.system || {}).status || 'running', paused: s.trading.paused_by_stop || 0 };
      render();
    }

    function dialog() {
      const stopping = state.trading !== 'stopped';
      const err = A.h('p', { class: 'form-error', testid: 'killswitch-error', role: 'alert' });
      const close = A.h('input', { type: 'checkbox', name: 'close_positions', testid: 'killswitch-close-positions' });
      const confirm = A.h('button', { type: 'button', class: stopping ? 'btn btn-danger' : 'btn btn-primary', testid: 'killswitch-confirm' },
        stopping ? 'Stop trading' : 'Start trading');
      const cancel = A.h('button', { type: 'button', class: 'btn btn-ghost', testid: 'killswitch-cancel' }, 'Cancel');
      const box = A.h('dialog', { class: 'killswitch-dialog', testid: 'killswitch-dialog', 'aria-label': stopping ? 'Stop trading' : 'Start trading' },
        A.h('h2', {}, stopping ? 'Stop all trading?' : 'Start trading again?'),
        A.h('p', {}, stopping
          ? 'Every one of your bots pauses and every open order is cancelled.'
          : `The ${state.paused} bot${state.paused === 1 ? '' : 's'} the stop paused resume${state.paused === 1 ? 's' : ''}. Bots you paused yourself stay paused.`),
        stopping ? A.h('label', { class: 'radio' }, close, A.h('span', {}, 'Also close my open positions at market')) : null,
        err,
        A.h('div', { class: 'btn-row' }, confirm, cancel));
      cancel.addEventListener('click', () => { box.close(); box.remove(); });
      confirm.addEventListener('click', () => A.act(confirm, err, async () => {
        const res = stopping
          ? await A.POST('trading/stop', { close_positions: close.checked })
          : await A.POST('trading/start');
        const t = res.trading || {};
        state.trading = t.status || state.trading;
        state.paused = t.paused_by_stop || 0;
        render();
        box.close();
        box.remove();
        if (stopping) {
          const closed = (t.closed_positions || []).length;
          A.toast(`Trading stopped: ${(t.paused_bots || []).length} bot(s) paused, ${(t.canceled_orders || []).length} order(s) cancelled`
            + (close.checked ? `, ${closed} position(s) closed` : '') + '.', (t.errors || []).length ? 'warning' : 'success');
        } else {
          A.toast(`Trading started: ${(t.resumed_bots || []).length} bot(s) resumed.`, 'success');
        }
      }));
      document.body.append(box);
      box.showModal();
    }

    btn.addEventListener('click', () => {
      if (state.system === 'stopped' && state.trading !== 'stopped') {
        A.toast('An administrator stopped trading platform-wide; it resumes when they start it again.', 'warning');
        return;
      }
      dialog();
    });
    A.live.on('trading_status', (m) => { state.trading = m.status; load().catch(() => render()); });
    A.live.on('system_status', (m) => { state.system = m.status; render(); });
    A.live.on('reconnect', () => load().catch(() => {}));
    load().catch(() => {});
  }

  // After boot has the session (a new tab gets its access token from the cookie first: amarktai.ready).
  document.addEventListener('DOMContentLoaded', () => window.amarktai.ready.then(init));
})();
