/* A bot's page (/bots/<id>): the Supertrend exit of its open position (GET/PUT/DELETE
 * /api/positions/{id}/supertrend-exit): its settings, what it saw on the last closed candle (trend, line), and a form
 * to set, change or remove it. Runs after pages.bot_detail (bot_detail.js) for the owner's bots with an open position;
 * refreshed by position_update and the bot's trades on the live feed. */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.bot_detail;
  const STATUS = {
    waiting: 'Waiting for the next closed candle',
    watching: 'Watching',
    triggered: 'Trend flipped down: selling',
    closed: 'Position closed',
  };

  A.pages.bot_detail = async () => {
    await base();
    const { T, h, GET, DEL, act, when, live, money, onSubmit, debounce } = A;
    const id = location.pathname.split('/').filter(Boolean)[1];
    const card = T('bot-supertrend-card');
    const form = T('bot-supertrend-form');
    let positionId = null;
    let filledFor = null;
    let ccy; // the bot's quote currency (BTC/ZAR: ZAR)

    const fact = (label, value, testid) => [h('dt', {}, label), h('dd', { testid }, value)];

    function render(st) {
      const state = T('bot-supertrend-state');
      T('bot-supertrend-clear').hidden = !st;
      T('bot-supertrend-save').textContent = st ? 'Save Supertrend exit' : 'Set Supertrend exit';
      T('bot-supertrend-status').textContent = st ? (STATUS[st.status] || st.status) : 'Off';
      state.hidden = !st;
      if (!st) { state.replaceChildren(); return; }
      state.replaceChildren(
        ...fact('Settings', `period ${st.period}, multiplier ${st.multiplier}, ${st.timeframe} candles`, 'bot-supertrend-settings'),
        ...fact('Trend', st.trend === null ? 'Not evaluated yet' : `${st.trend === 'up' ? 'Up' : 'Down'}${st.last_candle_at ? ` (candle of ${when(st.last_candle_at)})` : ''}`, 'bot-supertrend-trend'),
        ...fact('Line', st.line === null ? '—' : money(st.line, ccy), 'bot-supertrend-line'),
        ...(st.reason ? fact('Fired', `${st.reason}${st.triggered_at ? ` (${when(st.triggered_at)})` : ''}`, 'bot-supertrend-reason') : []),
        ...(st.last_error ? fact('Last error', st.last_error, 'bot-supertrend-error') : []),
      );
      if (filledFor !== positionId) { // fill once per position: a refresh never overwrites what is being typed
        filledFor = positionId;
        form.elements.period.value = st.period;
        form.elements.multiplier.value = st.multiplier;
        form.elements.timeframe.value = st.timeframe;
      }
    }

    async function load() {
      let bot;
      try { bot = (await GET(`bots/${encodeURIComponent(id)}`)).bot; } catch (e) { return; } // an admin's view: not theirs
      positionId = bot && bot.exits ? bot.exits.position_id : null;
      card.hidden = !positionId;
      if (!positionId) return;
      if (filledFor !== positionId) form.elements.timeframe.value = bot.timeframe || '1h';
      const data = await GET(`positions/${encodeURIComponent(positionId)}/supertrend-exit`);
      ccy = bot.symbol && bot.symbol.includes('/') ? bot.symbol.split('/')[1] : undefined;
      render(data.supertrend_exit);
    }

    onSubmit(form, async (data) => {
      if (!positionId) return;
      T('bot-supertrend-ok').textContent = '';
      const num = (v) => (v === '' ? null : Number(v));
      const body = { period: num(data.period), multiplier: num(data.multiplier), timeframe: data.timeframe };
      const r = await A.api('PUT', `positions/${encodeURIComponent(positionId)}/supertrend-exit`, body);
      filledFor = null;
      render(r.supertrend_exit);
      T('bot-supertrend-ok').textContent = 'Saved. It acts on the next closed candle.';
      await load();
    });
    T('bot-supertrend-clear').addEventListener('click', (ev) => act(ev.currentTarget, form.querySelector('.form-error'), async () => {
      if (!positionId) return;
      await DEL(`positions/${encodeURIComponent(positionId)}/supertrend-exit`);
      T('bot-supertrend-ok').textContent = 'Removed.';
      await load();
    }));

    const refresh = debounce(() => load().catch(() => {}), 300);
    live.on('position_update', (m) => { if (m.position && (m.position.bot_id === id || m.position.id === positionId)) refresh(); });
    live.on('trade_executed', ({ trade }) => { if (trade && trade.bot_id === id) refresh(); });
    await load().catch(A.failedTo ? A.failedTo('the Supertrend exit') : () => {});
  };
})();
