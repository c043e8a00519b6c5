"""Forms of the analytics pages: the filters of the scores list."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cuore.analytics.models import AbcClass, RfmSegment, ValueTier

ANY = [("", _("Any"))]
SCORES = [("", _("Any"))] + [(str(n), str(n)) for n in range(1, 6)]


class ScoreFilterForm(forms.Form):
    """The filters of the scores list; R and F are what the cells of the RFM grid link to."""

    segment = forms.ChoiceField(label=_("RFM segment"), required=False, choices=ANY + list(RfmSegment.choices))
    abc_class = forms.ChoiceField(label=_("ABC class"), required=False, choices=ANY + list(AbcClass.choices))
    value_tier = forms.ChoiceField(label=_("Value tier"), required=False, choices=ANY + list(ValueTier.choices))
    min_churn_risk = forms.IntegerField(label=_("Churn risk at least (%)"), required=False, min_value=0, max_value=100)
    r = forms.TypedChoiceField(label=_("Recency score"), required=False, choices=SCORES, coerce=int, empty_value=None)
    f = forms.TypedChoiceField(label=_("Frequency score"), required=False, choices=SCORES, coerce=int, empty_value=None)
