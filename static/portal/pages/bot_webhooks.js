/* A signal bot's page (/bots/<id>): the alerts its webhook received (GET /api/bots/{id}/webhooks), newest first, with
 * what became of each and why, and a button for a new secret URL (POST /api/bots/{id}/webhook/rotate, shown once).
 * Runs after pages.bot_detail (bot_detail.js) and only for the owner's signal bots; refreshed by the bot's updates. */
(() => {
  'use strict';
  const A = window.amarktai;
  const LIMIT = 20;
  const base = A.pages.bot_detail;

  A.pages.bot_detail = async () => {
    await base();
    const { T, h, GET, POST, act, when, live, money } = A;
    const id = location.pathname.split('/').filter(Boolean)[1];
    let bot;
    try { bot = (await GET(`bots/${encodeURIComponent(id)}`)).bot; } catch (e) { return; } // an admin's view: not theirs
    if (!bot || !bot.webhook_enabled) return;
    T('bot-webhooks').hidden = false;
    let offset = 0;

    async function load() {
      const data = await GET(`bots/${encodeURIComponent(id)}/webhooks?limit=${LIMIT}&offset=${offset}`);
      const rows = data.webhooks || [];
      T('bot-webhooks-list').replaceChildren(...rows.map((w) => h('tr', { testid: 'bot-webhook-row', dataset: { outcome: w.outcome } },
        h('td', { 'data-label': 'Received' }, when(w.received_at)),
        h('td', { 'data-label': 'Source' }, w.source),
        h('td', { 'data-label': 'Action' }, [w.action || '—', w.price !== null ? ` @ ${money(w.price)}` : ''].join('')),
        h('td', { 'data-label': 'Outcome' }, h('span', { class: `badge badge-${w.outcome}`, testid: 'bot-webhook-outcome' }, w.outcome)),
        h('td', { 'data-label': 'Why', testid: 'bot-webhook-reason' }, w.reason))));
      T('bot-webhooks-empty').hidden = rows.length > 0;
      T('bot-webhooks-count').textContent = data.total ? `${data.total} received` : '';
      T('bot-webhooks-prev').disabled = offset === 0;
      T('bot-webhooks-next').disabled = offset + rows.length >= data.total;
    }
    T('bot-webhooks-prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); load().catch(() => {}); });
    T('bot-webhooks-next').addEventListener('click', () => { offset += LIMIT; load().catch(() => {}); });
    T('webhook-rotate').addEventListener('click', (ev) => act(ev.currentTarget, T('bot-webhooks-error'), async () => {
      const r = await POST(`bots/${encodeURIComponent(id)}/webhook/rotate`);
      T('webhook-new-url').textContent = r.webhook_url;
      T('webhook-rotated').hidden = false;
    }));
    await load();
    live.on('bot_update', (m) => { if (m.bot_id === id) load().catch(() => {}); });
  };
})();
