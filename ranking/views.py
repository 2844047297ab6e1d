from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from amarktai.api import validated
from amarktai.utils import iso
from ranking import selectors, services
from ranking.payloads import model_payload, optimization_payload, run_payload
from ranking.serializers import (
    DeployConfirmResponse,
    DeployConfirmSerializer,
    DeployResponse,
    DeploySerializer,
    ModelFilterSerializer,
    ModelListResponse,
    OptimizationCreateSerializer,
    OptimizationListResponse,
    OptimizationResponse,
    TrainResponse,
    TrainSerializer,
)


class OptimizationListView(GenericAPIView):
    """The user's parameter searches (newest first); POST starts one."""

    serializer_class = OptimizationCreateSerializer

    @extend_schema(responses=OptimizationListResponse)
    def get(self, request):
        items = [optimization_payload(o) for o in selectors.optimizations(request.user)]
        return Response({"success": True, "optimizations": items, "total": len(items)})

    @extend_schema(responses={202: OptimizationResponse})
    def post(self, request):
        data = validated(OptimizationCreateSerializer, request.data)
        optimization = services.start_optimization(
            request.user,
            **{**data, "in_sample_ratio": float(data["in_sample_ratio"]), "space": data.get("space") or None},
        )
        return Response({"success": True, "optimization": optimization_payload(optimization)}, status=202)


class OptimizationDetailView(GenericAPIView):
    serializer_class = OptimizationResponse

    @extend_schema(responses=OptimizationResponse)
    def get(self, request, optimization_id):
        optimization = selectors.access_optimization(request.user, optimization_id)
        return Response({"success": True, "optimization": optimization_payload(optimization)})


class ModelListView(GenericAPIView):
    """The ranked models: every strategy x preset scored on the markets active bots trade (platform-wide)."""

    serializer_class = ModelListResponse

    @extend_schema(parameters=[ModelFilterSerializer], responses=ModelListResponse)
    def get(self, request):
        filters = validated(ModelFilterSerializer, request.query_params)
        rows = selectors.ranked_models(
            exchange=(filters.get("exchange") or "").lower() or None,
            symbol=(filters.get("symbol") or "").upper() or None,
            strategy=filters.get("strategy"),
            limit=filters["limit"],
        )
        rows = list(rows)
        yours = selectors.deployed_counts(request.user, rows)
        models = [{**model_payload(m, rank), "your_bots": yours[str(m.id)]} for rank, m in enumerate(rows, start=1)]
        runs = [run_payload(r, request.user) for r in selectors.training_runs(10)]
        return Response({"success": True, "models": models, "total": len(models), "runs": runs})


class ModelTrainView(GenericAPIView):
    """Start a ranking run; progress arrives as model_training_progress events on /api/ws."""

    serializer_class = TrainSerializer

    @extend_schema(responses={202: TrainResponse})
    def post(self, request):
        data = validated(TrainSerializer, request.data)
        markets = [[data["exchange"].strip().lower(), data["symbol"].strip().upper()]] if data.get("symbol") else None
        run = services.start_training(request.user, markets)
        message = f"Ranking {len(run.markets)} market(s); progress arrives on the live feed"
        return Response({"success": True, "run": run_payload(run, request.user), "message": message}, status=202)


class ModelDeployView(GenericAPIView):
    """Propose switching bots to a ranked model: answers a one-time confirmation token; nothing changes yet."""

    serializer_class = DeploySerializer

    @extend_schema(responses=DeployResponse)
    def post(self, request):
        data = validated(DeploySerializer, request.data)
        deploy, token, bots = services.propose_deploy(request.user, data["model_id"], data["bot_ids"])
        model = deploy.model
        return Response(
            {
                "success": True,
                "confirmation_token": token,
                "expires_at": iso(deploy.expires_at),
                "model": model_payload(model),
                "bots": bots,
                "message": f"Switch {len(bots)} bot(s) to {model_payload(model)['name']}? Confirm to apply it from"
                " their next tick.",
            }
        )


class ModelDeployConfirmView(GenericAPIView):
    serializer_class = DeployConfirmSerializer

    @extend_schema(responses=DeployConfirmResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        data = validated(DeployConfirmSerializer, request.data)
        deploy, bots = services.confirm_deploy(request.user, data["confirmation_token"])
        items = [{"bot_id": str(b.id), "name": b.name, "strategy": b.strategy, "params": b.params} for b in bots]
        return Response(
            {
                "success": True,
                "message": f"{len(bots)} bot(s) switched to {deploy.model.strategy}; effective from their next tick",
                "bots": items,
            }
        )
