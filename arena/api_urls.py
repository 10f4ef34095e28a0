"""REST routes of the arena under /api/."""
from django.urls import URLPattern, URLResolver, path

from arena import api, generation_api, upload_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("battles/", api.BattleCreateApi.as_view(), name="battle-create"),
    path("battles/<uuid:battle_id>/", api.BattleDetailApi.as_view(), name="battle-detail"),
    path("battles/<uuid:battle_id>/events/", api.BattleEventsApi.as_view(), name="battle-events"),
    path("battles/<uuid:battle_id>/vote/", api.BattleVoteApi.as_view(), name="battle-vote"),
    path("battles/<uuid:battle_id>/audio/<str:side>", api.BattleAudioApi.as_view(), name="battle-audio"),
    path("generations/", generation_api.GenerationCreateApi.as_view(), name="generation-create"),
    path("generations/<uuid:request_id>/", generation_api.GenerationDetailApi.as_view(), name="generation-detail"),
    path("systems/", api.SystemListApi.as_view(), name="system-list"),
    path("prompts/", api.PromptListApi.as_view(), name="prompt-list"),
    path("clips/", upload_api.ClipUploadApi.as_view(), name="clip-upload"),
    path("clips/uploads/<uuid:upload_id>/", upload_api.ClipUploadDetailApi.as_view(), name="clip-upload-detail"),
]
