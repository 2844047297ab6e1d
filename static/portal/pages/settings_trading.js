/* Settings → Trading and risk (/settings/trading): the user's configuration sections (GET/PUT /api/config/{section},
 * field errors next to their fields), export of the whole set-up as a JSON download (POST /api/config/export) and
 * import of such a file: a dry run first shows what would change, then "Apply import" applies it (POST
 * /api/config/import). */
(() => {
  'use strict';
  const A = window.amarktai;

  function fill(form, values) {
    for (const el of form.elements) {
      if (!el.name || !(el.name in values)) continue;
      const v = values[el.name];
      if (el.dataset.kind === 'bool') el.checked = Boolean(v);
      else el.value = v === null || v === undefined ? '' : String(v);
    }
  }

  function read(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.type === 'file') continue;
      if (el.dataset.kind === 'bool') out[el.name] = el.checked;
      else if (el.dataset.kind === 'number') out[el.name] = el.value.trim() === '' ? null : Number(el.value);
      else out[el.name] = el.value;
    }
    return out;
  }

  A.pages.settings_trading = async () => {
    const platforms = await A.platforms().catch(() => []);
    A.fillPlatformSelect(A.T('trading-default_exchange'), platforms);
    const config = (await A.GET('config')).config.user;
    for (const form of A.$$('form[data-section]')) {
      const section = form.dataset.section;
      fill(form, config[section] || {});
      A.onSubmit(form, async () => {
        const res = await A.api('PUT', `config/${section}`, read(form));
        fill(form, res.values);
        A.T(`${section}-ok`).textContent = 'Saved.';
      });
    }
    A.live.on('config_update', (m) => {
      const form = A.$(`form[data-section="${CSS.escape(m.section)}"]`);
      if (form) fill(form, m.values || {});
    });

    A.T('config-export').addEventListener('click', (ev) => A.act(ev.currentTarget, A.T('import-error'), async () => {
      const { document: doc } = await A.POST('config/export');
      const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
      const link = A.h('a', { href: URL.createObjectURL(blob), download: `amarktai-setup-${doc.exported_at.slice(0, 10)}.json`, hidden: true });
      document.body.append(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    }));

    let pending = null;
    const importForm = A.T('import-form');
    A.onSubmit(importForm, async () => {
      A.T('import-preview').hidden = true;
      pending = null;
      const file = A.T('import-file').files[0];
      if (!file) throw new Error('Choose a set-up file first.');
      let doc;
      try { doc = JSON.parse(await file.text()); } catch (e) { throw new Error('This file is not JSON.'); }
      try {
        const res = await A.POST('config/import', { document: doc, dry_run: true });
        show(res);
        pending = doc;
      } catch (err) {
        const faults = Object.entries(err.details || {}).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`);
        throw new Error(faults.length ? `${err.message}\n${faults.join('\n')}` : err.message);
      }
    });

    function show(res) {
      const s = res.summary;
      A.T('import-summary').textContent = `${res.dry_run ? 'Would create' : 'Created'} ${s.created}, ${res.dry_run ? 'update' : 'updated'} ${s.updated}, leave ${s.unchanged} unchanged.`
        + (res.dry_run ? ' Nothing has changed yet.' : ' Imported bots are paused.');
      A.T('import-items').replaceChildren(...res.items.map((i) => A.h('tr', { testid: 'import-item', dataset: { kind: i.kind, action: i.action } },
        A.h('td', {}, i.kind === 'bot' ? 'Bot' : 'Settings'), A.h('td', {}, i.key),
        A.h('td', { class: `diff-${i.action}` }, i.action), A.h('td', {}, [(i.changes || []).join(', '), (i.kept || []).length ? `kept as is: ${i.kept.join(', ')}` : '']
          .filter(Boolean).join(' · ') || '—'))));
      A.T('import-preview').hidden = false;
      A.T('import-apply').hidden = !res.dry_run;
    }

    A.T('import-apply').addEventListener('click', (ev) => A.act(ev.currentTarget, A.T('import-error'), async () => {
      if (!pending) return;
      const res = await A.POST('config/import', { document: pending, dry_run: false });
      pending = null;
      show(res);
      const fresh = (await A.GET('config')).config.user;
      A.$$('form[data-section]').forEach((form) => fill(form, fresh[form.dataset.section] || {}));
      A.toast('Set-up imported. Imported bots are paused: resume them on the Bots page.', 'success');
    }));
  };
})();
