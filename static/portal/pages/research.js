/* Research page: start a backtest (POST /api/backtests), follow its progress (`backtest_progress` WebSocket messages,
 * with a slow poll as a fallback), show its result (metrics, equity against buy-and-hold and drawdown charts drawn by
 * the vendored Lightweight Charts, walk-forward / Monte Carlo summaries, the trade list) and compare runs in a table. */
(() => {
  'use strict';
  const A = window.amarktai;
  const FINISHED = new Set(['done', 'failed', 'canceled']);

  A.pages.research = async () => {
    const { T, h, GET, POST, DEL, number, money, when, onSubmit, live, pageError, platforms, fillPlatformSelect, armedButton, toast } = A;
    const form = T('backtest-form');
    const cell = (label, content, extra = {}) => h('td', { 'data-label': label, ...extra }, content);
    const pctOf = (v, digits = 2) => (v === null || v === undefined ? '—' : `${number(Number(v) * 100, digits, digits)}%`);
    const fixed = (v, digits = 2) => (v === null || v === undefined ? '—' : number(v, digits, digits));
    let current = null; // id of the run shown
    let charts = [];
    let pollTimer = null;

    // --- the form --------------------------------------------------------------------------------------------
    const list = await platforms();
    const exchange = T('bt-exchange');
    fillPlatformSelect(exchange, list);
    if (list.some((p) => p.id === 'binance')) exchange.value = 'binance';
    const fillSymbols = () => {
      const p = list.find((x) => x.id === exchange.value);
      T('bt-symbol').replaceChildren(...((p && p.symbols) || []).map((s) => h('option', { value: s }, s)));
    };
    exchange.addEventListener('change', fillSymbols);
    fillSymbols();

    function body(data) {
      const out = {
        strategy: data.strategy, exchange: data.exchange, symbol: data.symbol, timeframe: data.timeframe,
        risk_mode: data.risk_mode, initial_capital: data.initial_capital,
        walk_forward: T('bt-walk-forward').checked, monte_carlo: Number(data.monte_carlo || 0),
      };
      const iso = (v) => { const d = new Date(v); return Number.isNaN(d.getTime()) ? v : d.toISOString(); };
      if (data.start) out.start = iso(data.start); else if (data.days) out.days = Number(data.days);
      if (data.end) out.end = iso(data.end);
      if (data.fee_pct !== '') out.fee_rate = String(Number(data.fee_pct) / 100);
      if (data.slippage_pct !== '') out.slippage = String(Number(data.slippage_pct) / 100);
      if (data.params) {
        try { out.params = JSON.parse(data.params); } catch (e) { out.params = data.params; }
      }
      return out;
    }

    onSubmit(form, async (data) => {
      const created = await POST('backtests', body(data));
      toast('Backtest queued');
      show(created.backtest);
      await loadRuns();
    });

    // --- one run ---------------------------------------------------------------------------------------------
    function setProgress(status, progress, error) {
      const p = Math.round((progress || 0) * 100);
      T('bt-progress-bar').style.width = `${p}%`;
      T('bt-progress').setAttribute('aria-valuenow', String(p));
      T('bt-progress').dataset.status = status;
      T('bt-status').textContent = `${status.replace(/_/g, ' ')} · ${p}%`;
      T('bt-error').textContent = error || '';
      const slot = T('bt-cancel-slot');
      slot.replaceChildren();
      if (!FINISHED.has(status)) {
        slot.append(armedButton('Cancel', 'Click again to cancel', 'bt-cancel', async () => {
          const r = await DEL(`backtests/${current}`);
          setProgress(r.backtest.status, r.backtest.progress, r.backtest.error);
        }));
      }
    }

    function show(b) {
      current = b.id;
      T('bt-current').hidden = false;
      T('bt-title').textContent = `${b.strategy} · ${b.symbol} · ${b.timeframe} (${b.exchange})`;
      setProgress(b.status, b.progress, b.error);
      if (b.status === 'done' && b.result) render(b); else T('bt-result').hidden = true;
      clearTimeout(pollTimer);
      if (!FINISHED.has(b.status)) pollTimer = setTimeout(() => refresh(b.id), 5000);
    }

    async function refresh(id) {
      if (id !== current) return;
      try {
        show((await GET(`backtests/${id}`)).backtest);
        await loadRuns();
      } catch (err) { pageError(err); }
    }

    function metric(label, value, testid) {
      return h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value', testid }, value));
    }

    function chart(el, height) {
      el.replaceChildren();
      const LC = window.LightweightCharts;
      const c = LC.createChart(el, { height, autoSize: true, layout: { attributionLogo: false }, timeScale: { timeVisible: true } });
      charts.push(c);
      return c;
    }

    function series(points) {
      const seen = new Set();
      return points.map(([ts, v]) => ({ time: Math.floor(ts / 1000), value: v }))
        .filter((p) => (seen.has(p.time) ? false : seen.add(p.time)));
    }

    function render(b) {
      const r = b.result;
      const m = r.metrics;
      const ccy = b.symbol.split('/')[1];
      T('bt-result').hidden = false;
      T('bt-metrics').replaceChildren(
        metric('Total return', pctOf(m.total_return), 'bt-m-return'),
        metric('Buy & hold', pctOf(m.buy_and_hold_return), 'bt-m-hold'),
        metric('CAGR', pctOf(m.cagr), 'bt-m-cagr'),
        metric('Max drawdown', pctOf(m.max_drawdown), 'bt-m-drawdown'),
        metric('Sharpe', fixed(m.sharpe), 'bt-m-sharpe'),
        metric('Sortino', fixed(m.sortino), 'bt-m-sortino'),
        metric('Win rate', pctOf(m.win_rate, 1), 'bt-m-winrate'),
        metric('Profit factor', fixed(m.profit_factor), 'bt-m-pf'),
        metric('Exposure', pctOf(m.exposure, 1), 'bt-m-exposure'),
        metric('Fees paid', money(m.fees_paid, ccy), 'bt-m-fees'),
        metric('Final equity', money(m.final_equity, ccy), 'bt-m-final'),
        metric('Trades', String(m.trades), 'bt-m-trades'));
      charts.forEach((c) => c.remove());
      charts = [];
      if (window.LightweightCharts) {
        const LC = window.LightweightCharts;
        const eq = chart(T('bt-chart-equity'), 280);
        eq.addSeries(LC.LineSeries, { color: '#2563eb', lineWidth: 2, title: 'Strategy' }).setData(series(r.equity));
        eq.addSeries(LC.LineSeries, { color: '#9ca3af', lineWidth: 1, title: 'Buy & hold' }).setData(series(r.buy_and_hold));
        eq.timeScale().fitContent();
        const dd = chart(T('bt-chart-drawdown'), 160);
        dd.addSeries(LC.AreaSeries, { lineColor: '#dc2626', topColor: 'rgba(220,38,38,0.05)', bottomColor: 'rgba(220,38,38,0.35)', invertFilledArea: true })
          .setData(series(r.drawdown.map(([t, v]) => [t, v * 100])));
        dd.timeScale().fitContent();
      }
      const robust = [];
      if (r.walk_forward) {
        const wf = r.walk_forward;
        robust.push(h('p', { testid: 'bt-wf-summary' },
          `Walk-forward: in-sample return ${pctOf(wf.in_sample.total_return)} (Sharpe ${fixed(wf.in_sample.sharpe)}), `
          + `out-of-sample ${pctOf(wf.out_of_sample.total_return)} (Sharpe ${fixed(wf.out_of_sample.sharpe)}).`));
      }
      if (r.monte_carlo && r.monte_carlo.runs) {
        const mc = r.monte_carlo;
        robust.push(h('p', { testid: 'bt-mc-summary' },
          `Monte Carlo (${mc.runs} reshuffles of ${mc.round_trips} round trips): max drawdown median ${pctOf(mc.max_drawdown.p50)}, `
          + `5th percentile ${pctOf(mc.max_drawdown.p5)}, worst ${pctOf(mc.worst_max_drawdown)}; this order ${pctOf(mc.actual_max_drawdown)}.`));
      }
      T('bt-robustness').replaceChildren(...robust);
      const trades = r.trades || [];
      T('bt-trade-count').textContent = `(${m.trades}${trades.length < m.trades ? `, newest ${trades.length} shown` : ''})`;
      T('bt-trades').replaceChildren(...trades.slice().reverse().slice(0, 500).map((t) => h('tr', { testid: 'bt-trade-row' },
        cell('Time', when(new Date(t.ts).toISOString())),
        cell('Side', h('span', { class: `badge badge-${t.side}` }, t.side)),
        cell('Amount', number(t.amount), { class: 'r' }),
        cell('Price', money(t.price, ccy), { class: 'r' }),
        cell('Fee', money(t.fee, ccy), { class: 'r' }),
        cell('P&L', t.side === 'sell' ? money(t.profit_loss, ccy) : '—', { class: `r ${Number(t.profit_loss) > 0 ? 'up' : Number(t.profit_loss) < 0 ? 'down' : ''}` }),
        cell('Reason', h('span', { class: 'sub' }, t.reason)))));
    }

    // --- the runs table --------------------------------------------------------------------------------------
    async function loadRuns() {
      const runs = (await GET('backtests')).backtests || [];
      T('bt-runs-empty').hidden = runs.length > 0;
      T('bt-runs').replaceChildren(...runs.map((b) => {
        const m = b.metrics || {};
        const ccy = b.symbol.split('/')[1];
        return h('tr', { testid: 'bt-run-row', dataset: { id: b.id, status: b.status } },
          cell('Started', when(b.created_at)),
          cell('Strategy', `${b.strategy} (${b.risk_mode})`),
          cell('Market', `${b.symbol} ${b.timeframe} · ${b.exchange}`),
          cell('Status', h('span', { class: 'badge', testid: 'bt-run-status' }, b.status === 'running' ? `running ${Math.round(b.progress * 100)}%` : b.status)),
          cell('Return', pctOf(m.total_return), { class: 'r', testid: 'bt-run-return' }),
          cell('Buy & hold', pctOf(m.buy_and_hold_return), { class: 'r' }),
          cell('CAGR', pctOf(m.cagr), { class: 'r' }),
          cell('Max DD', pctOf(m.max_drawdown), { class: 'r' }),
          cell('Sharpe', fixed(m.sharpe), { class: 'r' }),
          cell('Sortino', fixed(m.sortino), { class: 'r' }),
          cell('Win rate', pctOf(m.win_rate, 1), { class: 'r' }),
          cell('Profit factor', fixed(m.profit_factor), { class: 'r' }),
          cell('Exposure', pctOf(m.exposure, 1), { class: 'r' }),
          cell('Fees', m.fees_paid === undefined ? '—' : money(m.fees_paid, ccy), { class: 'r' }),
          cell('Trades', m.trades === undefined ? '—' : String(m.trades), { class: 'r' }),
          cell('', h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'bt-run-open', onclick: () => refresh((current = b.id)) }, 'Open')));
      }));
    }

    live.on('backtest_progress', (msg) => {
      if (msg.backtest_id === current) {
        if (FINISHED.has(msg.status)) refresh(current); else setProgress(msg.status, msg.progress, msg.error);
      }
      if (FINISHED.has(msg.status) || msg.status === 'queued') loadRuns().catch(pageError);
    });
    await loadRuns();
  };
})();
