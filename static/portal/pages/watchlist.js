/* Watchlist page: the user's instruments (GET/POST /api/instruments, PUT/DELETE /api/instruments/{id}) with notes and
 * price alert levels. One form adds a market or, after "Edit", changes one; field errors show next to their fields.
 * A price alert (an `alert` message on the WebSocket) shows as a toast (app.js) and refreshes the list. */
(() => {
  'use strict';
  const A = window.amarktai;

  A.pages.watchlist = async () => {
    const { T, h, GET, POST, DEL, api, money, when, onSubmit, armedButton, act, live, platforms, fillPlatformSelect, debounce, failedTo } = A;
    const form = T('watch-form');
    const list = await platforms().catch(() => []);
    const exchangeSel = T('watch-exchange');
    const symbolSel = T('watch-symbol');
    fillPlatformSelect(exchangeSel, list);
    const fillSymbols = (selected) => {
      const p = list.find((x) => x.id === exchangeSel.value);
      symbolSel.replaceChildren(...((p && p.symbols) || []).map((s) => h('option', { value: s }, s)));
      if (selected) symbolSel.value = selected;
    };
    exchangeSel.addEventListener('change', () => fillSymbols());
    fillSymbols();
    const platformName = (id) => (list.find((p) => p.id === id) || {}).display_name || id;
    const quote = (symbol) => (symbol && symbol.includes('/') ? symbol.split('/')[1] : undefined);
    let editing = null;

    function setEditing(item) {
      editing = item;
      A.clearErrors(form);
      T('watch-form-title').textContent = item ? `Edit ${item.symbol} on ${platformName(item.exchange)}` : 'Watch a market';
      T('watch-submit').textContent = item ? 'Save changes' : 'Add to watch list';
      T('watch-cancel').hidden = !item;
      if (item) {
        exchangeSel.value = item.exchange;
        fillSymbols(item.symbol);
        form.elements.notes.value = item.notes || '';
        form.elements.alert_above.value = item.alert_above ?? '';
        form.elements.alert_below.value = item.alert_below ?? '';
        form.scrollIntoView({ block: 'start' });
      } else {
        ['notes', 'alert_above', 'alert_below'].forEach((n) => { form.elements[n].value = ''; });
      }
    }

    function level(item, side) {
      const value = item[`alert_${side}`];
      if (value === null || value === undefined) return '—';
      const firedAt = item[`alert_${side}_fired_at`];
      return h('span', {}, money(value, quote(item.symbol)),
        firedAt ? h('span', { class: 'sub', testid: `watch-fired-${side}` },
          `fired ${when(firedAt)} at ${money(item[`alert_${side}_fired_price`], quote(item.symbol))}`) : null);
    }

    async function load() {
      const items = (await GET('instruments')).instruments || [];
      T('watch-list').replaceChildren(...items.map((item) => {
        const err = h('span', { class: 'field-error', testid: 'watch-row-error' });
        const edit = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'watch-edit', onclick: () => setEditing(item) }, 'Edit');
        const remove = armedButton('Remove', 'Confirm remove', 'watch-delete', (btn) => act(btn, err, async () => {
          await DEL(`instruments/${item.id}`);
          if (editing && editing.id === item.id) setEditing(null);
          await load();
        }));
        return h('tr', { testid: 'watch-row', dataset: { id: item.id } },
          h('td', { 'data-label': 'Exchange' }, platformName(item.exchange)),
          h('td', { 'data-label': 'Pair', testid: 'watch-row-symbol' }, item.symbol),
          h('td', { 'data-label': 'Notes', testid: 'watch-row-notes' }, item.notes || '—'),
          h('td', { 'data-label': 'Alert above', class: 'r', testid: 'watch-row-above' }, level(item, 'above')),
          h('td', { 'data-label': 'Alert below', class: 'r', testid: 'watch-row-below' }, level(item, 'below')),
          h('td', { 'data-label': 'Actions', class: 'r' }, h('span', { class: 'actions' }, edit, remove), err));
      }));
      T('watch-empty').hidden = items.length > 0;
      T('watch-count').textContent = `${items.length} ${items.length === 1 ? 'market' : 'markets'}`;
    }

    const levelOf = (v) => (v === '' ? null : v);
    onSubmit(form, async (data) => {
      const body = { exchange: data.exchange, symbol: data.symbol, notes: data.notes,
        alert_above: levelOf(data.alert_above), alert_below: levelOf(data.alert_below) };
      if (editing) {
        // Send a level only when it changed: sending it re-arms an alert that already fired.
        for (const side of ['above', 'below']) {
          const key = `alert_${side}`;
          const before = editing[key] === null || editing[key] === undefined ? null : Number(editing[key]);
          const after = body[key] === null ? null : Number(body[key]);
          if (before === after && !Number.isNaN(after)) delete body[key];
        }
        await api('PUT', `instruments/${editing.id}`, body);
        setEditing(null);
        T('watch-ok').textContent = `${body.symbol} saved.`;
      } else {
        await POST('instruments', body);
        setEditing(null);
        T('watch-ok').textContent = `${body.symbol} is on your watch list.`;
      }
      await load();
    });
    T('watch-cancel').addEventListener('click', () => setEditing(null));

    await load().catch(failedTo('your watch list'));
    const reload = debounce(() => load().catch(() => {}), 300);
    live.on('alert', reload);
    live.on('reconnect', reload);
  };
})();
