from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from trading import selectors, services
from trading.models import Order, Trade
from trading.serializers import OrderCreateSerializer, OrderFilterSerializer, OrderModifySerializer, TradeFilterSerializer
from amarktai.api import validated


class TradeListView(GenericAPIView):
    def get(self, request):
        filters = validated(TradeFilterSerializer, request.query_params)
        trades = Trade.objects.filter(user=request.user)
        if filters.get("bot_id"):
            trades = trades.filter(bot_id=filters["bot_id"])
        total = trades.count()
        page = trades.order_by("-created_at", "-id")[filters["offset"]:filters["offset"] + filters["limit"]]
        return Response({"success": True, "trades": [services.trade_payload(t) for t in page], "total": total})


class MetricsView(GenericAPIView):
    def get(self, request):
        return Response({"success": True, "metrics": selectors.metrics(request.user)})


class PositionListView(GenericAPIView):
    def get(self, request):
        positions = selectors.open_positions(request.user)
        return Response({"success": True, "positions": positions, "total": len(positions)})


class OrderListView(GenericAPIView):
    serializer_class = OrderCreateSerializer

    def get(self, request):
        filters = validated(OrderFilterSerializer, request.query_params)
        orders = Order.objects.filter(user=request.user)
        if filters.get("status"):
            orders = orders.filter(status=filters["status"])
        total = orders.count()
        items = [services.order_payload(o) for o in orders.order_by("-created_at")[:filters["limit"]]]
        return Response({"success": True, "orders": items, "total": total})

    def post(self, request):
        data = validated(OrderCreateSerializer, request.data)
        order = services.manual_order(request.user, **data)
        return Response({"success": True, "order": services.order_payload(order)}, status=201)


class OrderDetailView(GenericAPIView):
    serializer_class = OrderModifySerializer

    def get(self, request, order_id):
        return Response({"success": True, "order": services.order_payload(services.get_user_order(request.user, order_id))})

    def patch(self, request, order_id):
        data = validated(OrderModifySerializer, request.data)
        order = services.modify_user_order(request.user, order_id, data.get("amount"), data.get("price"))
        return Response({"success": True, "order": services.order_payload(order)})


class OrderCancelView(GenericAPIView):
    def post(self, request, order_id):
        order = services.cancel_user_order(request.user, order_id)
        return Response({"success": True, "order": services.order_payload(order)})
