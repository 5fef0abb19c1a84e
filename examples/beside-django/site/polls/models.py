from django.db import models


class Question(models.Model):
    """The tutorial's question: the Rust API lists, adds, changes and
    deletes these rows (table `polls_question`)."""

    question_text = models.CharField(max_length=200)
    pub_date = models.DateTimeField("date published")

    def __str__(self):
        return self.question_text
