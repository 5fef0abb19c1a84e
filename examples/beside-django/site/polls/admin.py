from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Question


@admin.register(Question)
class QuestionAdmin(GuardedModelAdmin):
    list_display = ["id", "question_text", "pub_date"]
