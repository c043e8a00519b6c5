"""Web pages of the sales app: the deal board, list and page, the forecast and the tasks of the day."""

from django.urls import path

from cuore.sales import views

app_name = "sales"

urlpatterns = [
    path("deals/", views.deal_list, name="deals"),
    path("deals/bulk/", views.deal_bulk, name="deals_bulk"),
    path("deals/board/", views.board, name="board"),
    path("deals/forecast/", views.forecast, name="forecast"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:deal_id>/win/", views.deal_win, name="deal_win"),
    path("deals/<int:deal_id>/lose/", views.deal_lose, name="deal_lose"),
    path("deals/<int:deal_id>/reopen/", views.deal_reopen, name="deal_reopen"),
    path("tasks/", views.tasks, name="tasks"),
    path("activities/", views.activity_list, name="activities"),
    path("activities/bulk/", views.activity_bulk, name="activities_bulk"),
    path("tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:activity_id>/done/", views.task_done, name="task_done"),
    path("pick/contacts/", views.pick_contact, name="pick_contact"),
    path("pick/accounts/", views.pick_account, name="pick_account"),
]
