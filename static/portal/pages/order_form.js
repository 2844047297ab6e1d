/* The trades page's "Place an order" card (POST /api/orders): exchange, pair, side, type, amount, and a limit price for
 * limit orders. On a stock market (a platform of kind "stock") it also offers stop and stop-limit orders with their
 * stop price, the time in force and the broker product, and says amounts are whole shares. Runs after pages.trades
 * (trades.js). */
(() => {
  'use strict';
  const A = window.amarktai;
  const base = A.pages.trades;

  A.pages.trades = async () => {
    if (base) await base();
    const { T, h, POST, onSubmit, platforms, fillPlatformSelect, toast } = A;
    const form = T('order-form');
    if (!form) return;
    const list = await platforms().catch(() => []);
    const exchange = T('order-exchange');
    const symbol = T('order-symbol');
    const type = T('order-type');
    fillPlatformSelect(exchange, list);
    const current = () => list.find((p) => p.id === exchange.value) || {};
    const isStock = () => current().kind === 'stock';

    const showFields = () => {
      const stock = isStock();
      for (const option of type.querySelectorAll('option[data-stock]')) option.hidden = !stock;
      if (!stock && ['stop', 'stop_limit'].includes(type.value)) type.value = 'market';
      T('order-price-field').hidden = !['limit', 'stop_limit'].includes(type.value);
      T('order-stop-field').hidden = !(stock && ['stop', 'stop_limit'].includes(type.value));
      T('order-tif-field').hidden = !stock;
      T('order-product-field').hidden = !stock;
      T('order-lot-hint').hidden = !stock;
    };
    const onExchange = () => {
      symbol.replaceChildren(...(current().symbols || []).map((s) => h('option', { value: s }, s)));
      showFields();
    };
    exchange.addEventListener('change', onExchange);
    type.addEventListener('change', showFields);
    onExchange();

    const number = (value) => (value !== '' && Number.isFinite(Number(value)) ? Number(value) : value);
    onSubmit(form, async (data) => {
      T('order-ok').textContent = '';
      const body = { exchange: data.exchange, symbol: data.symbol, side: data.side, type: data.type, amount: number(data.amount) };
      if (!T('order-price-field').hidden) body.price = number(data.price);
      if (isStock()) {
        if (!T('order-stop-field').hidden) body.stop_price = number(data.stop_price);
        body.time_in_force = data.time_in_force;
        if (data.product) body.product = data.product;
      }
      const { order } = await POST('orders', body);
      const filled = order.filled ? `: ${order.filled} filled at ${order.average}` : '';
      const waiting = order.status === 'open' ? ' (resting: it fills when the market reaches it or opens)' : '';
      T('order-ok').textContent = `Order ${order.status}${filled}${waiting}.`;
      toast(`${order.side === 'buy' ? 'Bought' : 'Sold'} ${order.amount} ${order.symbol}: ${order.status}`, 'success');
    });
  };
})();
