/* The exchange-key form's provider-specific fields (Settings page). /api/providers lists, per provider, the credential
 * fields it needs besides the API key and secret (a broker's client code, TOTP secret, gateway URL, paper/live...):
 * each is rendered as an input (text, url or a choice; secret ones as password inputs; required ones marked), the API
 * secret is hidden when the provider does not ask for one, and the values are posted in `extra`. The stored keys'
 * non-secret `settings` are shown in the key list (settingsText). Used by the settings page in app.js. */
(() => {
  const A = window.amarktai;

  function input(field) {
    const attrs = { name: `extra:${field.name}`, autocomplete: 'off', testid: `exkey-extra-${field.name}`, required: field.required, 'aria-required': field.required ? 'true' : null };
    if (field.kind === 'choice') {
      const select = A.h('select', attrs, field.required ? null : A.h('option', { value: '' }, '—'),
        ...field.choices.map((c) => A.h('option', { value: c }, c)));
      select.value = field.default || (field.required ? field.choices[0] || '' : '');
      return select;
    }
    const type = field.secret ? 'password' : field.kind === 'url' ? 'url' : 'text';
    const el = A.h('input', { ...attrs, type, placeholder: field.kind === 'url' ? 'https://' : null });
    if (field.default && !field.secret) el.value = field.default;
    return el;
  }

  function fieldRow(field) {
    const text = A.h('span', {}, field.label, field.required ? A.h('span', { class: 'req', title: 'required', 'aria-hidden': 'true' }, ' *') : null);
    const label = A.h('label', {}, text, input(field));
    return A.h('div', { class: 'field', testid: 'exkey-extra-field', dataset: { name: field.name } },
      label,
      field.help ? A.h('span', { class: 'muted small' }, field.help) : null,
      A.h('p', { class: 'field-error', dataset: { errorFor: field.name } }),
      A.h('p', { class: 'field-error', dataset: { errorFor: `extra.${field.name}` } }));
  }

  /** Wire the form: returns { apply(body), clear() } for the page's submit and test handlers. */
  function attach(form, select) {
    const box = A.T('exkey-extra-fields');
    const secretField = A.T('exkey-secret-field');
    let providers = [];
    let current = null;
    const render = () => {
      current = providers.find((p) => p.id === select.value) || null;
      const fields = (current && current.fields) || [];
      box.replaceChildren(...fields.map(fieldRow));
      const needsSecret = !current || (current.required_fields || []).includes('api_secret');
      secretField.hidden = !needsSecret;
    };
    select.addEventListener('change', render);
    const loaded = A.GET('providers').then((data) => { providers = data.providers || []; render(); }).catch(() => {});
    return {
      loaded,
      providers: () => providers,
      apply(body) {
        if (secretField.hidden) delete body.api_secret;
        const extra = {};
        for (const el of box.querySelectorAll('[name^="extra:"]')) if (el.value.trim()) extra[el.name.slice(6)] = el.value.trim();
        if (Object.keys(extra).length) body.extra = extra;
        return body;
      },
      clear() {
        for (const el of box.querySelectorAll('input[name^="extra:"]')) el.value = '';
      },
    };
  }

  /** The stored key's non-secret settings as one line ("Client code: AB12 · Account: paper"), or null. */
  function settingsText(key, providerList) {
    const settings = key.settings || {};
    const names = Object.keys(settings);
    if (!names.length) return null;
    const provider = (providerList || []).find((p) => p.id === (key.platform || key.provider || key.exchange));
    const label = (name) => ((provider && (provider.fields || []).find((f) => f.name === name)) || {}).label || name;
    return A.h('span', { class: 'muted small', testid: 'exkey-row-settings' }, names.map((n) => `${label(n)}: ${settings[n]}`).join(' · '));
  }

  A.keyFields = { attach, settingsText };
})();
