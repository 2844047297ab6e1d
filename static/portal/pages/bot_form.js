/* The create-bot form's strategy part (bots page): the strategy list and each strategy's parameter inputs are built from
 * GET /api/strategies (JSON Schema per strategy: type number/integer/boolean/string, minimum, exclusiveMinimum,
 * maximum, enum, default, title, description, required), so a strategy added on the server appears here with its form:
 * numbers as number inputs, booleans as checkboxes, enums as selects, strings as text; required params (DCA's and
 * grid's, without a default) start empty and are marked. Properties with "x-group" (every indicator and signal bot's
 * exits and protections) go in a folded "Exits and protections" section and are sent only when changed from their
 * default. Field errors (the API's details "params.<name>", or the same checks made here before sending) show next to
 * the generated inputs. After a signal bot is created its webhook URL is shown
 * once, with a copy button and the TradingView message template. Used by pages.bots in app.js. */
(() => {
  'use strict';
  const A = window.amarktai;

  function template(symbol) {
    const ticker = String(symbol || 'BTC/ZAR').replace('/', '');
    return JSON.stringify({ action: '{{strategy.order.action}}', ticker, price: '{{close}}', size: '', id: '{{timenow}}' }, null, 2)
      .replace('"{{close}}"', '{{close}}')
      .replace('  "size": "",\n', '');
  }

  const GROUPS = { exits: 'Exits', protections: 'Protections' };

  /** "(2–98)", "(> 0)", "(≥ 0)" or '' from a numeric property's bounds. */
  function rangeText(spec) {
    const low = spec.minimum;
    const high = spec.maximum;
    if (spec.exclusiveMinimum !== undefined) return high !== undefined ? ` (> ${spec.exclusiveMinimum}, ≤ ${high})` : ` (> ${spec.exclusiveMinimum})`;
    if (low !== undefined && high !== undefined) return ` (${low}–${high})`;
    if (low !== undefined) return ` (≥ ${low})`;
    if (high !== undefined) return ` (≤ ${high})`;
    return '';
  }

  /** The input for one JSON Schema property: a checkbox (boolean), a select (enum, its default selected; an empty
   * first choice when there is no default), a text input (string) or a number input (number/integer). */
  function control(name, spec, required) {
    const { h } = A;
    const base = { name: `params.${name}`, testid: `bot-param-${name}`, dataset: { type: spec.type || 'number' },
      'aria-required': required ? 'true' : null };
    if (spec.type === 'boolean') return h('input', { ...base, type: 'checkbox', checked: spec.default === true });
    if (Array.isArray(spec.enum)) {
      const choices = spec.enum.map((v) => h('option', { value: String(v), selected: v === spec.default }, String(v)));
      if (spec.default === undefined) choices.unshift(h('option', { value: '', selected: true }, required ? 'Choose (required)' : '—'));
      return h('select', base, choices);
    }
    const placeholder = spec.default !== undefined ? String(spec.default) : (required ? 'Required' : 'default');
    const input = spec.type === 'string'
      ? h('input', { ...base, type: 'text', placeholder })
      : h('input', { ...base, type: 'number', step: spec.type === 'integer' ? '1' : 'any', min: spec.minimum, max: spec.maximum, placeholder });
    if (spec.default !== undefined) input.setAttribute('value', String(spec.default)); // the default, also after form.reset()
    return input;
  }

  function field(name, spec, required) {
    const { h } = A;
    const input = control(name, spec, required);
    const title = spec.title || name;
    const mark = required ? h('span', { class: 'param-required', testid: `bot-param-required-${name}` }, ' (required)') : null;
    const label = spec.type === 'boolean'
      ? h('label', { class: 'check' }, input, title, mark)
      : h('label', {}, h('span', {}, `${title}${spec.type === 'number' || spec.type === 'integer' ? rangeText(spec) : ''}`, mark), input);
    return h('div', { class: 'field', testid: `bot-param-field-${name}`, dataset: { group: spec['x-group'] || '' } },
      label,
      spec.description ? h('p', { class: 'muted small', testid: `bot-param-help-${name}` }, spec.description) : null,
      h('p', { class: 'field-error', dataset: { errorFor: `params.${name}` } }));
  }

  /** One property's value from its input, checked like the server does: {value} or {error}, or {} when left empty. */
  function valueOf(input, spec, required) {
    if (spec.type === 'boolean') return { value: Boolean(input.checked) };
    const raw = input.value.trim();
    if (raw === '') return required ? { error: 'Required.' } : {};
    if (Array.isArray(spec.enum)) return spec.enum.map(String).includes(raw) ? { value: raw } : { error: `Choose one of: ${spec.enum.join(', ')}.` };
    if (spec.type === 'string') return { value: raw };
    const value = Number(raw);
    if (!Number.isFinite(value)) return { error: 'Enter a number.' };
    if (spec.type === 'integer' && !Number.isInteger(value)) return { error: 'Enter a whole number.' };
    if (spec.minimum !== undefined && value < spec.minimum) return { error: `Must be at least ${spec.minimum}.` };
    if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum) return { error: `Must be greater than ${spec.exclusiveMinimum}.` };
    if (spec.maximum !== undefined && value > spec.maximum) return { error: `Must be at most ${spec.maximum}.` };
    return { value };
  }

  async function setup(form) {
    const { T, h, GET } = A;
    const select = T('bot-strategy');
    const fields = T('bot-params-fields');
    const { strategies = [] } = await GET('strategies');
    const byId = new Map(strategies.map((s) => [s.id, s]));
    const current = select.value;
    select.replaceChildren(...strategies.map((s) => h('option', { value: s.id, testid: `bot-strategy-${s.id}` }, s.name)));
    if (byId.has(current)) select.value = current;

    function schemaOf(id) {
      const s = byId.get(id);
      const schema = (s && s.params_schema) || {};
      return { props: schema.properties || {}, required: new Set(schema.required || []) };
    }

    let advanced = null; // the folded "Exits and protections" section of the current strategy, if it has one
    function countSet() {
      if (!advanced) return;
      const { props } = schemaOf(select.value);
      const set = Object.entries(props).filter(([name, spec]) => {
        if (!spec['x-group']) return false;
        const got = valueOf(form.elements[`params.${name}`], spec, false);
        return got.error !== undefined || (got.value !== undefined && got.value !== spec.default);
      }).length;
      T('bot-params-advanced-count').textContent = set ? `${set} set` : 'all off';
    }

    let rendered = null; // the strategy whose fields are shown
    function render() {
      rendered = select.value;
      const s = byId.get(select.value);
      T('bot-strategy-description').textContent = s ? s.description : '';
      const { props, required } = schemaOf(select.value);
      // Required params first (DCA's and grid's have no default: they start empty), then the rest in declared order.
      const entries = Object.entries(props).sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
      const main = entries.filter(([, spec]) => !spec['x-group']);
      const folded = entries.filter(([, spec]) => spec['x-group']);
      advanced = null;
      if (folded.length) {
        const groups = [...new Set(folded.map(([, spec]) => spec['x-group']))];
        advanced = h('details', { class: 'params-advanced', testid: 'bot-params-advanced', oninput: countSet, onchange: countSet },
          h('summary', { testid: 'bot-params-advanced-toggle' }, 'Exits and protections ',
            h('span', { class: 'muted small', testid: 'bot-params-advanced-count' })),
          h('p', { class: 'muted small params-advanced-hint' }, 'Every one is off at its default; only the ones you change are sent.'),
          groups.map((g) => h('div', { class: 'form-grid params-group', testid: `bot-params-group-${g}` },
            h('h3', { class: 'params-group-title' }, GROUPS[g] || g),
            folded.filter(([, spec]) => spec['x-group'] === g).map(([name, spec]) => field(name, spec, required.has(name))))));
      }
      fields.replaceChildren(...main.map(([name, spec]) => field(name, spec, required.has(name))), ...(advanced ? [advanced] : []));
      countSet();
      T('bot-params').hidden = entries.length === 0;
    }
    // A change event that keeps the same strategy (a re-selection) keeps what was typed.
    select.addEventListener('change', () => { if (select.value !== rendered) render(); });
    render();

    /** {params, errors}: the filled-in parameters in their schema types (number, boolean, string), checked against
     * the schema like the server does (required, type, bounds, enum). Exits and protections left at their defaults
     * are not sent (the server uses the same defaults). */
    function read() {
      const { props, required } = schemaOf(select.value);
      const params = {};
      const errors = {};
      for (const [name, spec] of Object.entries(props)) {
        const input = form.elements[`params.${name}`];
        if (!input) continue;
        const { value, error } = valueOf(input, spec, required.has(name));
        if (error) errors[`params.${name}`] = [error];
        else if (value !== undefined && !(spec['x-group'] && value === spec.default)) params[name] = value;
      }
      if (advanced && Object.keys(errors).some((k) => props[k.slice(7)]['x-group'])) advanced.open = true;
      return { params, errors };
    }
    return { render, read, strategy: (id) => byId.get(id) };
  }

  function showWebhook(url, symbol) {
    const { T, toast } = A;
    const box = T('webhook-created');
    const input = T('webhook-url');
    input.value = url;
    T('webhook-template').textContent = template(symbol);
    box.hidden = false;
    T('webhook-copy').onclick = async () => {
      try {
        await navigator.clipboard.writeText(url);
      } catch (e) {
        input.select();
        document.execCommand('copy');
      }
      T('webhook-copy').textContent = 'Copied';
      toast('Webhook URL copied.', 'success');
    };
    box.scrollIntoView({ block: 'nearest' });
  }

  A.botForm = { setup, showWebhook, template };
})();
