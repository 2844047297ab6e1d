from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from amarktai.api import validated
from trading import selectors, services
from trading.payloads import order_payload, trade_payload
from trading.serializers import (
    OrderCreateSerializer,
    OrderFilterSerializer,
    OrderModifySerializer,
    PositionListResponseSerializer,
    TradeFilterSerializer,
)


class TradeListView(GenericAPIView):
    def get(self, request):
        filters = validated(TradeFilterSerializer, request.query_params)
        trades, total = selectors.trades_page(request.user, **filters)
        return Response({"success": True, "trades": [trade_payload(t) for t in trades], "total": total})


class PositionListView(GenericAPIView):
    @extend_schema(responses=PositionListResponseSerializer)
    def get(self, request):
        return Response({"success": True, **selectors.positions_report(request.user)})


class OrderListView(GenericAPIView):
    serializer_class = OrderCreateSerializer

    def get(self, request):
        filters = validated(OrderFilterSerializer, request.query_params)
        orders, total = selectors.orders_page(request.user, **filters)
        return Response({"success": True, "orders": [order_payload(o) for o in orders], "total": total})

    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        data = validated(OrderCreateSerializer, request.data)
        order = services.manual_order(request.user, **data)
        return Response({"success": True, "order": order_payload(order)}, status=201)


class OrderDetailView(GenericAPIView):
    serializer_class = OrderModifySerializer

    def get(self, request, order_id):
        return Response({"success": True, "order": order_payload(selectors.access_order(request.user, order_id))})

    def patch(self, request, order_id):
        data = validated(OrderModifySerializer, request.data)
        order = services.modify_user_order(request.user, order_id, data.get("amount"), data.get("price"))
        return Response({"success": True, "order": order_payload(order)})


class OrderCancelView(GenericAPIView):
    def post(self, request, order_id):
        order = services.cancel_user_order(request.user, order_id)
        return Response({"success": True, "order": order_payload(order)})
