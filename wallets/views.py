"""Wallet endpoints: stored API keys (/api/keys...), key test, platform health, balances and transfers. Thin views: the
serializers validate, a service does the work."""

from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from wallets import serializers as s
from wallets.services import balances, credentials, health, transfers


def _valid(serializer_class, request, partial=False):
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class KeyListView(GenericAPIView):
    serializer_class = s.CredentialCreateSerializer

    def get(self, request):
        provider = request.query_params.get("provider")
        keys = credentials.list_credentials(request.user, provider)
        return Response({"success": True, "keys": [credentials.credential_dict(c) for c in keys]})

    def post(self, request):
        data = _valid(s.CredentialCreateSerializer, request)
        cred = credentials.create_credential(request.user, data["provider"], data["api_key"], data["api_secret"],
                                             data.get("passphrase", ""), data.get("label", ""))
        return Response({"success": True, "key": credentials.credential_dict(cred)}, status=201)


class KeyDetailView(GenericAPIView):
    serializer_class = s.CredentialUpdateSerializer

    def get(self, request, credential_id):
        return Response({"success": True,
                         "key": credentials.credential_dict(credentials.get_credential(request.user, credential_id))})

    def patch(self, request, credential_id):
        credentials.get_credential(request.user, credential_id)  # 404 before validating a foreign id's payload
        data = _valid(s.CredentialUpdateSerializer, request)
        cred = credentials.update_credential(request.user, credential_id, **data)
        return Response({"success": True, "key": credentials.credential_dict(cred)})

    def delete(self, request, credential_id):
        credentials.delete_credential(request.user, credential_id)
        return Response({"success": True, "message": "API key deleted"})


class KeyTestView(GenericAPIView):
    serializer_class = s.KeyTestSerializer

    def post(self, request):
        data = _valid(s.KeyTestSerializer, request)
        provider = credentials.test_keys(request.user, data.get("provider"), data.get("api_key"), data.get("api_secret"),
                                         data.get("passphrase"), data.get("credential_id"))
        return Response({"success": True, "message": "API keys are valid", "provider": provider})


class PlatformHealthView(GenericAPIView):
    def get(self, request):
        return Response(health.platforms_health(request.user))


class BalancesView(GenericAPIView):
    def get(self, request):
        return Response(balances.wallet_balances(request.user))


class TransferListView(GenericAPIView):
    def get(self, request):
        return Response({"success": True, "transfers": transfers.list_transfers(request.user)})


class TransferCreateView(GenericAPIView):
    serializer_class = s.TransferSerializer

    def post(self, request):
        data = _valid(s.TransferSerializer, request)
        transfer = transfers.request_transfer(request.user, data["from_provider"], data["to_provider"], data["amount"],
                                              data["currency"], data.get("reason", ""))
        return Response({"success": True, "transfer": {"id": str(transfer.id), "status": "pending",
                                                       "message": transfers.MESSAGE,
                                                       "correlation_id": str(transfer.correlation_id)}})
