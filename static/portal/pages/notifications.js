// Settings > Notifications: channels (add, test, switch on/off, delete; a webhook's secret shown once), Telegram
// linking, which event kinds go to which channels, and the delivery log. Everything from /api/notifications/.
(() => {
  const A = window.amarktai;
  const { api, GET, POST, DEL, T, h, toast, onSubmit, armedButton, act, when } = A;

  const KIND_LABEL = { email: 'Email', webhook: 'Webhook', telegram: 'Telegram' };
  const STATUS_BADGE = { delivered: 'active', pending: 'pending', retrying: 'paused', failed: 'failed' };
  const badge = (text, cls, testid) => h('span', { class: `badge badge-${cls}`, testid }, text);

  A.pages.notifications = async () => {
    let channels = [];

    function channelLabel(c) { return c.name || KIND_LABEL[c.kind] || c.kind; }

    async function loadChannels() {
      channels = (await GET('notifications/channels')).channels || [];
      T('notify-channels-list').replaceChildren(...channels.map((c) => {
        const err = h('span', { class: 'field-error', testid: 'notify-row-error' });
        const status = c.enabled ? badge('on', 'active', 'notify-row-status') : badge('off', 'failed', 'notify-row-status');
        const testBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'notify-row-test' }, 'Test');
        testBtn.addEventListener('click', () => act(testBtn, err, async () => {
          await POST(`notifications/channels/${c.id}/test`);
          toast('Test message queued: see the delivery log.', 'success');
          setTimeout(loadDeliveries, 800);
        }));
        const toggle = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'notify-row-toggle' }, c.enabled ? 'Switch off' : 'Switch on');
        toggle.addEventListener('click', () => act(toggle, err, async () => {
          await api('PATCH', `notifications/channels/${c.id}`, { enabled: !c.enabled });
          await loadChannels();
        }));
        const actions = [testBtn, toggle];
        if (c.kind === 'webhook') {
          const rotate = armedButton('New secret', 'Confirm new secret', 'notify-row-rotate', (btn) => act(btn, err, async () => {
            const res = await POST(`notifications/channels/${c.id}/secret`);
            showSecret(res.secret);
          }), 'btn btn-ghost btn-sm');
          actions.push(rotate);
        }
        actions.push(armedButton('Delete', 'Confirm delete', 'notify-row-delete', (btn) => act(btn, err, async () => {
          await DEL(`notifications/channels/${c.id}`);
          await Promise.all([loadChannels(), loadPrefs()]);
        })));
        return h('tr', { testid: 'notify-row', dataset: { id: c.id, kind: c.kind } },
          h('td', {}, h('b', {}, channelLabel(c)), ' ', h('span', { class: 'muted small' }, KIND_LABEL[c.kind] || c.kind)),
          h('td', { class: 'wrap' }, h('code', { testid: 'notify-row-target' }, c.target)),
          h('td', {}, status, c.disabled_reason ? h('div', { class: 'muted small', testid: 'notify-row-reason' }, c.disabled_reason) : null),
          h('td', {}, when(c.last_success_at)),
          h('td', { class: 'r' }, h('span', { class: 'actions' }, ...actions), err));
      }));
      T('notify-channels-empty').hidden = channels.length > 0;
      const linked = channels.some((c) => c.kind === 'telegram');
      if (linked) T('notify-telegram-status').textContent = 'A Telegram chat is linked. Link another by asking for a new code.';
    }

    function showSecret(secret) {
      T('notify-secret').textContent = secret;
      T('notify-secret-box').hidden = false;
    }

    let prefs = { preferences: {}, kinds: [] };
    async function loadPrefs() {
      prefs = await GET('notifications/preferences');
      T('notify-prefs-head').replaceChildren(h('tr', {}, h('th', {}, 'Event'),
        ...channels.map((c) => h('th', {}, channelLabel(c)))));
      T('notify-prefs-list').replaceChildren(...prefs.kinds.map((k) => h('tr', { testid: 'notify-pref-row', dataset: { kind: k.kind } },
        h('td', {}, k.label),
        ...channels.map((c) => h('td', {}, h('input', {
          type: 'checkbox',
          'aria-label': `${k.label} to ${channelLabel(c)}`,
          testid: `notify-pref-${k.kind}`,
          dataset: { kind: k.kind, channel: c.id },
          checked: (prefs.preferences[k.kind] || []).includes(c.id),
        }))))));
      T('notify-timezone').value = prefs.timezone;
      T('notify-report-hour').value = prefs.report_hour;
    }

    async function loadDeliveries() {
      const rows = (await GET('notifications/deliveries?limit=50')).deliveries || [];
      const byId = Object.fromEntries(channels.map((c) => [c.id, c]));
      T('notify-deliveries-list').replaceChildren(...rows.map((d) => h('tr', { testid: 'notify-delivery-row', dataset: { status: d.status, event: d.event_kind } },
        h('td', {}, when(d.created_at)),
        h('td', {}, d.subject, h('div', { class: 'muted small' }, d.event_kind)),
        h('td', {}, byId[d.channel_id] ? channelLabel(byId[d.channel_id]) : (KIND_LABEL[d.channel_kind] || d.channel_kind)),
        h('td', {}, badge(d.status, STATUS_BADGE[d.status] || 'pending', 'notify-delivery-status'), d.error ? h('div', { class: 'muted small' }, d.error) : null),
        h('td', {}, String(d.attempts)),
        h('td', {}, d.response_code === null ? '—' : String(d.response_code)))));
      T('notify-deliveries-empty').hidden = rows.length > 0;
    }

    onSubmit(T('notify-channel-form'), async (data, form) => {
      const res = await POST('notifications/channels', { kind: data.kind, target: data.target, name: data.name || '' });
      form.elements.target.value = '';
      form.elements.name.value = '';
      T('notify-secret-box').hidden = true;
      if (res.secret) showSecret(res.secret);
      toast(`${KIND_LABEL[res.channel.kind]} channel added.`, 'success');
      await loadChannels();
      await loadPrefs();
    });

    onSubmit(T('notify-prefs-form'), async (data) => {
      const chosen = {};
      prefs.kinds.forEach((k) => { chosen[k.kind] = []; });
      document.querySelectorAll('[data-testid^="notify-pref-"][data-channel]').forEach((box) => {
        if (box.checked) chosen[box.dataset.kind].push(box.dataset.channel);
      });
      const body = { preferences: chosen, timezone: data.timezone || 'UTC' };
      if (data.report_hour !== '') body.report_hour = Number(data.report_hour);
      await api('PATCH', 'notifications/preferences', body);
      toast('Notification choices saved.', 'success');
      await loadPrefs();
    });

    T('notify-telegram-link').addEventListener('click', (ev) => act(ev.currentTarget, T('notify-telegram-error'), async () => {
      const res = await POST('notifications/telegram/link');
      T('notify-telegram-command').textContent = `/start ${res.code}`;
      T('notify-telegram-bot').textContent = res.bot_username ? `@${res.bot_username}` : "the platform's Telegram bot";
      const open = T('notify-telegram-open');
      open.hidden = !res.link_url;
      if (res.link_url) open.href = res.link_url;
      T('notify-telegram-box').hidden = false;
      if (!res.configured) T('notify-telegram-error').textContent = 'Telegram is not set up on this server yet (TELEGRAM_BOT_TOKEN).';
    }));
    T('notify-deliveries-refresh').addEventListener('click', (ev) => act(ev.currentTarget, null, async () => {
      await loadChannels();
      await loadDeliveries();
    }));

    T('notify-telegram-status').textContent = 'No Telegram chat linked. Get a code and send it to the bot.';
    await loadChannels();
    await Promise.all([loadPrefs(), loadDeliveries()]);
  };
})();
