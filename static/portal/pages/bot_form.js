/* The create-bot form's strategy part (bots page): the strategy list and each strategy's parameter inputs are built from
 * GET /api/strategies (JSON Schema per strategy: type, minimum, maximum, default, title, description), so a strategy
 * added on the server appears here with its form. Field errors (the API's details "params.<name>", or the same checks
 * made here before sending) show next to the generated inputs. After a signal bot is created its webhook URL is shown
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

  async function setup(form) {
    const { T, h, GET } = A;
    const select = T('bot-strategy');
    const fields = T('bot-params-fields');
    const { strategies = [] } = await GET('strategies');
    const byId = new Map(strategies.map((s) => [s.id, s]));
    const current = select.value;
    select.replaceChildren(...strategies.map((s) => h('option', { value: s.id, testid: `bot-strategy-${s.id}` }, s.name)));
    if (byId.has(current)) select.value = current;

    function render() {
      const s = byId.get(select.value);
      T('bot-strategy-description').textContent = s ? s.description : '';
      const props = (s && s.params_schema && s.params_schema.properties) || {};
      fields.replaceChildren(...Object.entries(props).map(([name, spec]) => {
        const integer = spec.type === 'integer';
        const input = h('input', {
          type: 'number', name: `params.${name}`, testid: `bot-param-${name}`, step: integer ? '1' : 'any',
          min: spec.minimum, max: spec.maximum, placeholder: spec.default !== undefined ? String(spec.default) : 'default',
          dataset: { type: spec.type || 'number' },
        });
        if (spec.default !== undefined) input.value = String(spec.default);
        const range = [spec.minimum, spec.maximum].every((v) => v !== undefined) ? ` (${spec.minimum}–${spec.maximum})` : '';
        return h('div', { class: 'field', testid: `bot-param-field-${name}` },
          h('label', {}, `${spec.title || name}${range}`, input),
          spec.description ? h('p', { class: 'muted small', testid: `bot-param-help-${name}` }, spec.description) : null,
          h('p', { class: 'field-error', dataset: { errorFor: `params.${name}` } }));
      }));
      T('bot-params').hidden = Object.keys(props).length === 0;
    }
    select.addEventListener('change', render);
    render();

    /** {params, errors}: the filled-in parameters as numbers, checked against the schema like the server does. */
    function read() {
      const s = byId.get(select.value);
      const props = (s && s.params_schema && s.params_schema.properties) || {};
      const params = {};
      const errors = {};
      for (const [name, spec] of Object.entries(props)) {
        const input = form.elements[`params.${name}`];
        const raw = input ? input.value.trim() : '';
        if (raw === '') continue;
        const value = Number(raw);
        const key = `params.${name}`;
        if (!Number.isFinite(value)) errors[key] = ['Enter a number.'];
        else if (spec.type === 'integer' && !Number.isInteger(value)) errors[key] = ['Enter a whole number.'];
        else if (spec.minimum !== undefined && value < spec.minimum) errors[key] = [`Must be at least ${spec.minimum}.`];
        else if (spec.maximum !== undefined && value > spec.maximum) errors[key] = [`Must be at most ${spec.maximum}.`];
        else params[name] = value;
      }
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
