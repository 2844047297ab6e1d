/* Models page (/research/models): the strategy ranking (GET /api/models, POST /api/models/train with progress from
 * `model_training_progress` on the WebSocket), deploy-to-bot with a confirmation (POST /api/models/deploy, then
 * /api/models/deploy/confirm), and parameter searches with in-sample vs out-of-sample results (/api/optimizations). */
(() => {
  'use strict';
  const A = window.amarktai;

  A.pages.models = async () => {
    const { T, h, GET, POST, number, pct, when, onSubmit, live, platforms, fillPlatformSelect, debounce, failedTo, confirmDialog, toast } = A;
    const list = await platforms().catch(() => []);
    const ratio = (v) => pct(Number(v) * 100);
    const sharpe = (v) => number(v, 2, 2);
    const paramText = (p) => Object.entries(p || {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults';

    function pairSelect(exchangeSel, symbolSel, allowEmpty) {
      const fill = () => {
        const p = list.find((x) => x.id === exchangeSel.value);
        const symbols = (p && p.symbols) || [];
        symbolSel.replaceChildren(...(allowEmpty && !p ? [h('option', { value: '' }, '—')] : []),
          ...symbols.map((s) => h('option', { value: s }, s)));
        symbolSel.disabled = !p;
      };
      exchangeSel.addEventListener('change', fill);
      fill();
    }

    // ---- ranking table
    const trainExchange = T('train-exchange');
    list.forEach((p) => trainExchange.append(h('option', { value: p.id }, p.display_name || p.id)));
    pairSelect(trainExchange, T('train-symbol'), true);

    let bots = [];
    let deployModel = null;

    async function loadModels() {
      const body = await GET('models');
      const models = body.models || [];
      T('models-list').replaceChildren(...models.map((m) => h('tr', { testid: 'model-row', dataset: { id: m.id } },
        h('td', { 'data-label': '#' }, String(m.rank)),
        h('td', { 'data-label': 'Model', testid: 'model-name' }, m.name,
          h('span', { class: 'sub' }, `${m.symbol} on ${m.exchange} (${m.timeframe})`)),
        h('td', { 'data-label': 'Trades', class: 'r' }, String(m.total_trades)),
        h('td', { 'data-label': 'Success', class: 'r' }, ratio(m.success_rate)),
        h('td', { 'data-label': 'Return', class: 'r' }, ratio(m.total_return)),
        h('td', { 'data-label': 'Sharpe', class: 'r' }, sharpe(m.sharpe_ratio)),
        h('td', { 'data-label': 'Drawdown', class: 'r' }, ratio(m.max_drawdown)),
        h('td', { 'data-label': 'Score', class: 'r', testid: 'model-score' }, sharpe(m.score)),
        h('td', { 'data-label': 'Last trained' }, when(m.last_trained)),
        h('td', { 'data-label': 'Your bots', class: 'r', testid: 'model-your-bots' }, String(m.your_bots)),
        h('td', { 'data-label': 'Actions', class: 'r' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'model-deploy', onclick: () => openDeploy(m) }, 'Deploy to bot')))));
      T('models-empty').hidden = models.length > 0;
      T('models-count').textContent = `${models.length} ${models.length === 1 ? 'model' : 'models'}`;
      return models;
    }

    onSubmit(T('train-form'), async (data) => {
      const payload = data.exchange ? { exchange: data.exchange, symbol: data.symbol } : {};
      const res = await POST('models/train', payload);
      T('train-progress').textContent = res.message;
    });

    // ---- deploy to bot (with confirmation)
    async function openDeploy(model) {
      deployModel = model;
      bots = ((await GET('bots')).bots || []);
      T('deploy-title').textContent = `Deploy ${model.name} to bots`;
      T('deploy-error').textContent = '';
      T('deploy-bots').replaceChildren(...(bots.length ? bots.map((b) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', value: b.id, testid: 'deploy-bot', checked: b.exchange === model.exchange && b.symbol === model.symbol }),
        ` ${b.name} (${b.symbol} on ${b.exchange}, now ${b.strategy})`)) : [h('p', { class: 'muted' }, 'You have no bots yet.')]));
      T('deploy-panel').hidden = false;
      T('deploy-panel').scrollIntoView({ block: 'start' });
    }
    T('deploy-cancel').addEventListener('click', () => { T('deploy-panel').hidden = true; deployModel = null; });
    T('deploy-review').addEventListener('click', async () => {
      const btn = T('deploy-review');
      const ids = [...T('deploy-bots').querySelectorAll('input[type=checkbox]:checked')].map((i) => i.value);
      T('deploy-error').textContent = '';
      if (!deployModel) return;
      if (!ids.length) { T('deploy-error').textContent = 'Choose at least one bot.'; return; }
      btn.disabled = true;
      try {
        const proposal = await POST('models/deploy', { model_id: deployModel.id, bot_ids: ids });
        const lines = proposal.bots.map((b) => `${b.name}: ${b.from.strategy} (${paramText(b.from.params)}) → ${b.to.strategy} (${paramText(b.to.params)})${b.same_market ? '' : ` — ranked on ${deployModel.symbol}, the bot trades ${b.market}`}`);
        const yes = await confirmDialog({ title: proposal.message, body: lines, confirmLabel: 'Deploy', danger: false, testid: 'deploy-dialog' });
        if (!yes) return;
        const done = await POST('models/deploy/confirm', { confirmation_token: proposal.confirmation_token });
        toast(done.message, 'info');
        T('deploy-panel').hidden = true;
        deployModel = null;
        await loadModels();
      } catch (err) {
        T('deploy-error').textContent = err.message;
      } finally {
        btn.disabled = false;
      }
    });

    // ---- parameter search
    const optExchange = T('opt-exchange');
    fillPlatformSelect(optExchange, list);
    pairSelect(optExchange, T('opt-symbol'), false);
    let shown = null;

    function showResults(opt) {
      shown = opt.id;
      T('opt-detail').hidden = false;
      T('opt-detail-title').textContent = `${opt.strategy} on ${opt.symbol} (${opt.exchange}, ${opt.timeframe}): top ${opt.results.length} of ${opt.evaluated}`;
      T('opt-results').replaceChildren(...opt.results.map((r) => h('tr', { testid: 'opt-result' },
        h('td', { 'data-label': '#' }, String(r.rank)),
        h('td', { 'data-label': 'Parameters' }, paramText(r.params)),
        h('td', { 'data-label': 'Trades in / out', class: 'r' }, `${r.in_sample.total_trades} / ${r.out_of_sample.total_trades}`),
        h('td', { 'data-label': 'Return in / out', class: 'r', testid: 'opt-result-return' }, `${ratio(r.in_sample.total_return)} / ${ratio(r.out_of_sample.total_return)}`),
        h('td', { 'data-label': 'Sharpe in / out', class: 'r' }, `${sharpe(r.in_sample.sharpe_ratio)} / ${sharpe(r.out_of_sample.sharpe_ratio)}`),
        h('td', { 'data-label': 'Max drawdown in / out', class: 'r' }, `${ratio(r.in_sample.max_drawdown)} / ${ratio(r.out_of_sample.max_drawdown)}`))));
    }

    async function loadSearches() {
      const items = (await GET('optimizations')).optimizations || [];
      T('opt-list').replaceChildren(...items.map((o) => {
        const best = o.results[0];
        const actions = h('span', { class: 'actions' });
        if (o.results.length) actions.append(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'opt-show', onclick: () => showResults(o) }, 'Results'));
        if (best && best.model_id) {
          actions.append(h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'opt-deploy-best', onclick: async () => {
            const models = await loadModels();
            const model = models.find((m) => m.id === best.model_id);
            if (model) await openDeploy(model); else toast('That parameter set is no longer ranked; search again.', 'warning');
          } }, 'Deploy best'));
        }
        return h('tr', { testid: 'opt-row', dataset: { id: o.id } },
          h('td', { 'data-label': 'Started' }, when(o.created_at)),
          h('td', { 'data-label': 'Strategy' }, o.strategy),
          h('td', { 'data-label': 'Market' }, `${o.symbol} on ${o.exchange} (${o.timeframe})`),
          h('td', { 'data-label': 'Status', testid: 'opt-status' }, o.status === 'running' ? `running ${ratio(o.progress)}` : o.error ? `${o.status}: ${o.error}` : o.status),
          h('td', { 'data-label': 'Best in-sample' }, best ? paramText(best.params) : '—'),
          h('td', { 'data-label': 'In-sample return', class: 'r' }, best ? ratio(best.in_sample.total_return) : '—'),
          h('td', { 'data-label': 'Out-of-sample return', class: 'r', testid: 'opt-oos' }, best ? ratio(best.out_of_sample.total_return) : '—'),
          h('td', { 'data-label': 'Sharpe in / out', class: 'r' }, best ? `${sharpe(best.in_sample.sharpe_ratio)} / ${sharpe(best.out_of_sample.sharpe_ratio)}` : '—'),
          h('td', { 'data-label': 'Actions', class: 'r' }, actions));
      }));
      T('opt-empty').hidden = items.length > 0;
      const current = items.find((o) => o.id === shown);
      if (current) showResults(current);
      return items;
    }

    onSubmit(T('opt-form'), async (data) => {
      const body = { strategy: data.strategy, exchange: data.exchange, symbol: data.symbol, timeframe: data.timeframe,
        method: data.method, trials: Number(data.trials), candles: Number(data.candles), in_sample_ratio: data.in_sample_ratio, top_n: 5 };
      const res = await POST('optimizations', body);
      T('opt-progress').textContent = `Searching ${res.optimization.trials} parameter sets…`;
      await loadSearches();
    });

    const reloadModels = debounce(() => loadModels().catch(() => {}), 300);
    const reloadSearches = debounce(() => loadSearches().catch(() => {}), 300);
    live.on('model_training_progress', (m) => {
      const target = m.kind === 'optimization' ? T('opt-progress') : T('train-progress');
      target.textContent = m.status === 'running' ? `${m.kind === 'optimization' ? 'Searching' : 'Ranking'}: ${ratio(m.progress)}`
        : m.status === 'completed' ? `${m.kind === 'optimization' ? 'Search' : 'Ranking'} complete.` : `Failed: ${m.error || 'unknown error'}`;
      if (m.status !== 'running') { reloadModels(); reloadSearches(); }
    });
    live.on('reconnect', () => { reloadModels(); reloadSearches(); });
    await Promise.all([loadModels().catch(failedTo('the ranking')), loadSearches().catch(failedTo('your parameter searches'))]);
  };
})();
