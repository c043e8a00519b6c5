"""Forms of the contact and account lists."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cuore.contacts.models import LifecycleStage


class ContactFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    lifecycle_stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("Any stage")), *LifecycleStage.choices]
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    tag = forms.ChoiceField(label=_("Tag"), required=False)

    def __init__(self, *args, owners=(), tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", _("Any owner")),
            *[(u.pk, u.get_full_name() or u.username) for u in owners],
        ]
        self.fields["tag"].choices = [("", _("Any tag")), *[(t.name, t.name) for t in tags]]


class AccountFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=100)
    tag = forms.ChoiceField(label=_("Tag"), required=False)

    def __init__(self, *args, owners=(), tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", _("Any owner")),
            *[(u.pk, u.get_full_name() or u.username) for u in owners],
        ]
        self.fields["tag"].choices = [("", _("Any tag")), *[(t.name, t.name) for t in tags]]
