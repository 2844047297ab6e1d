/* Admin console → System control (/console/control): the bot engine's platform-wide state (GET /api/system/status)
 * with start, stop and restart (POST /api/system/start|stop|restart; stop and restart ask for a second click), the
 * engine's read-only settings (GET /api/config/engine), live through the system_status message. Who changed it comes
 * from GET /api/trading/status, which shows admins the address. */
(() => {
  'use strict';
  const A = window.amarktai;

  A.pages.admin_control = async () => {
    if (!(A.session.user || {}).is_admin) { A.pageError(new Error('This page is for administrators.')); return; }
    const form = A.T('system-form');
    const err = A.T('system-error');

    function render(sys) {
      const stopped = sys.status === 'stopped';
      const state = A.T('system-state');
      state.textContent = stopped ? 'Stopped' : 'Running';
      state.className = `system-state ${stopped ? 'down' : 'up'}`;
      state.dataset.status = sys.status;
      A.T('system-detail').textContent = [
        sys.changed_at ? `Since ${A.when(sys.changed_at)}` : 'Never changed',
        sys.changed_by ? `by ${sys.changed_by}` : '',
        sys.reason ? `— ${sys.reason}` : '',
        sys.restarts ? `· ${sys.restarts} restart${sys.restarts === 1 ? '' : 's'}` : '',
      ].filter(Boolean).join(' ');
      const run = (action) => (btn) => A.act(btn, err, async () => {
        const res = await A.POST(`system/${action}`, { reason: form.elements.reason.value.trim() });
        render(res.system);
        A.toast(`Engine ${action === 'stop' ? 'stopped' : action === 'start' ? 'started' : 'restarted'}.`, 'success');
      });
      const start = A.h('button', { type: 'button', class: 'btn btn-primary', testid: 'system-start', disabled: !stopped }, 'Start');
      start.addEventListener('click', () => run('start')(start));
      A.T('system-actions').replaceChildren(start,
        A.armedButton('Stop', 'Confirm stop', 'system-stop', run('stop'), 'btn btn-danger'),
        A.armedButton('Restart', 'Confirm restart', 'system-restart', run('restart'), 'btn btn-ghost'));
    }

    form.addEventListener('submit', (ev) => ev.preventDefault());
    const load = async () => render((await A.GET('trading/status')).system);
    await load().catch(A.failedTo('the system status'));
    A.GET('config/engine').then((r) => {
      A.T('engine-config').replaceChildren(...Object.entries(r.values).flatMap(([k, v]) => [A.h('dt', {}, k.replace(/_/g, ' ')), A.h('dd', {}, String(v))]));
    }).catch(() => {});
    A.live.on('system_status', (m) => render(m));
    A.live.on('reconnect', () => load().catch(() => {}));
  };
})();
