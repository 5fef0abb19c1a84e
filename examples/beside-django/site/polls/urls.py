from django.urls import path

from . import views

urlpatterns = [
    path("whoami/", views.whoami, name="whoami"),
    path("new/", views.new_question, name="new"),
    path("note/", views.note, name="note"),
    path("me/", views.me, name="me"),
]
