"""Batch API (seed 000 BATCH ENDPOINTS, plus the routes the forms need). Views validate input, call a service."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from batches import selectors, services
from batches.api.serializers import (
    BatchAbortInputSerializer,
    BatchCloseInputSerializer,
    BatchCommentInputSerializer,
    BatchDeviationInputSerializer,
    BatchRecordSerializer,
    BatchStartInputSerializer,
    BatchSummarySerializer,
    PhaseConfirmInputSerializer,
    PhaseEnterInputSerializer,
    PhaseSignInputSerializer,
    RecipeSerializer,
)
from batches.choices import BatchStatus, RecipeStatus
from batches.filtersets import BatchFilterSet, RecipeFilterSet
from scada.api.schema import ErrorSerializer

__all__ = ["BatchViewSet", "RecipeViewSet"]

_errors = {404: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer}
_POSITION = OpenApiParameter("position", OpenApiTypes.INT, OpenApiParameter.PATH, description="Phase position.")


def _input(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class BatchViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Batches: the list and the EBR (Operator+); start, close, abort (Supervisor+); phases, comments and
    deviations (Operator+)."""

    serializer_class = BatchSummarySerializer
    filterset_class = BatchFilterSet
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return selectors.batch_queryset()

    def _batch(self):
        return selectors.batch_get(pk=self.kwargs["pk"])

    @extend_schema(summary="List batch records",
                   parameters=[OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=BatchStatus.values)],
                   responses={200: BatchSummarySerializer(many=True)})
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([selectors.batch_summary(b) for b in page])

    @extend_schema(summary="Full EBR for a batch", responses={200: BatchRecordSerializer, 404: ErrorSerializer})
    def retrieve(self, request, pk=None):
        return Response(selectors.batch_ebr(self._batch()))

    @extend_schema(summary="Start batch execution", request=BatchStartInputSerializer,
                   responses={201: BatchRecordSerializer, **_errors})
    @action(detail=False, methods=["post"])
    def start(self, request):
        batch = services.batch_start(user=request.user, **{"parameters": None, **_input(BatchStartInputSerializer,
                                                                                         request)})
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Close a batch with an e-signature (a second person's when the recipe asks)",
                   request=BatchCloseInputSerializer, responses={200: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        batch = services.batch_close(batch=self._batch(), user=request.user,
                                     signature=_input(BatchCloseInputSerializer, request)["signature"])
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)))

    @extend_schema(summary="Abort a running batch with a reason", request=BatchAbortInputSerializer,
                   responses={200: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        batch = services.batch_abort(batch=self._batch(), user=request.user,
                                     reason=_input(BatchAbortInputSerializer, request)["reason"])
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)))

    @extend_schema(summary="Add a comment to the batch record", request=BatchCommentInputSerializer,
                   responses={201: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"])
    def comments(self, request, pk=None):
        batch = self._batch()
        services.batch_comment_add(batch=batch, user=request.user, **_input(BatchCommentInputSerializer, request))
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Record a deviation in the batch record", request=BatchDeviationInputSerializer,
                   responses={201: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"])
    def deviations(self, request, pk=None):
        batch = self._batch()
        services.batch_deviation_add(batch=batch, user=request.user,
                                     **_input(BatchDeviationInputSerializer, request))
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)), status=status.HTTP_201_CREATED)

    def _phase(self, request, position, action_name, **fields):
        batch = services.batch_phase_complete(batch=self._batch(), position=int(position), user=request.user,
                                              action=action_name, **fields)
        return Response(selectors.batch_ebr(selectors.batch_get(pk=batch.pk)))

    @extend_schema(summary="Confirm the active phase", parameters=[_POSITION], request=PhaseConfirmInputSerializer,
                   responses={200: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"], url_path=r"phases/(?P<position>[0-9]{1,5})/confirm",
            url_name="phase-confirm")
    def phase_confirm(self, request, pk=None, position=None):
        _input(PhaseConfirmInputSerializer, request)
        return self._phase(request, position, "confirm")

    @extend_schema(summary="Enter the active phase's value", parameters=[_POSITION],
                   request=PhaseEnterInputSerializer, responses={200: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"], url_path=r"phases/(?P<position>[0-9]{1,5})/enter",
            url_name="phase-enter")
    def phase_enter(self, request, pk=None, position=None):
        return self._phase(request, position, "enter", value=_input(PhaseEnterInputSerializer,
                                                                          request)["value"])

    @extend_schema(summary="Sign the active phase (e-signature)", parameters=[_POSITION],
                   request=PhaseSignInputSerializer, responses={200: BatchRecordSerializer, **_errors})
    @action(detail=True, methods=["post"], url_path=r"phases/(?P<position>[0-9]{1,5})/sign",
            url_name="phase-sign")
    def phase_sign(self, request, pk=None, position=None):
        return self._phase(request, position, "sign",
                           signature=_input(PhaseSignInputSerializer, request)["signature"])


class RecipeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Recipe versions, read-only (Operator+): what an MES may start, and what each version's approval signed.
    Recipes are written in Django admin (drafts, approval by e-signature)."""

    serializer_class = RecipeSerializer
    filterset_class = RecipeFilterSet
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return selectors.recipe_queryset()

    @extend_schema(summary="List recipe versions",
                   parameters=[OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=RecipeStatus.values)],
                   responses={200: RecipeSerializer(many=True)})
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([selectors.recipe_dict(r) for r in page])

    @extend_schema(summary="One recipe version", responses={200: RecipeSerializer, 404: ErrorSerializer})
    def retrieve(self, request, pk=None):
        return Response(selectors.recipe_dict(selectors.recipe_get(pk=pk)))
