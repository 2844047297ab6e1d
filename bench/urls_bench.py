from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from amarktai.urls import urlpatterns as app_urlpatterns


class HelloWorld(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        return Response({"hello": "world"})


urlpatterns = [path("bench/hello", HelloWorld.as_view()), *app_urlpatterns]
