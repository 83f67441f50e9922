"""Journal-grade figures: the theme, survival and cumulative-incidence curves with numbers at risk, the stacked
state plot, the swimmer plot, the patient flow, the treatment sequence, response rates and a forest plot.

Every function reads result objects (:class:`cartreport.stats.km.KMResult`, ``cartreport.stats.cif.CIFResult``) or parts of
``results.json`` and draws them; none computes a statistic. Times arrive in days and are drawn in months
(days / 30.4375). Following seaborn, plotting functions take data plus ``ax=None`` (or ``fig=None`` where they need
several axes), draw, and return what they drew on; the look is set once by :func:`theme`.

=================  ==================================================================================
``style``          :func:`theme`, :data:`PALETTE` (Okabe–Ito), column widths, :func:`save_figure` (PNG, SVG, PDF)
``curves``         :func:`plot_km`, :func:`plot_cif` with numbers at risk, :func:`risk_table_data`,
                   :func:`plot_state_stack`, :func:`subgroup_figure` (an endpoint by subgroup, from an analysis)
``patients``       :func:`plot_swimmer`, :func:`plot_responses`, :func:`plot_forest`
``diagrams``       :func:`plot_flow` (CONSORT-style), :func:`plot_treatment_sequence`
=================  ==================================================================================

Examples
--------
>>> from cartreport.stats.km import kaplan_meier
>>> theme()
>>> km = kaplan_meier([90, 200, 365, 400, 500], [1, 0, 1, 0, 0])
>>> fig = plot_km({"All patients": km}, xlabel="Months since second HSCT", ylabel="Overall survival (%)")
>>> risk_table_data({"All patients": km}, [0, 182.625, 365.25]).to_numpy().tolist()
[[5, 4, 2]]
"""

from cartreport.report.figures.curves import (
    StepCurve,
    plot_cif,
    plot_km,
    plot_state_stack,
    risk_table_data,
    subgroup_figure,
)
from cartreport.report.figures.diagrams import (
    FLOW_DROPS,
    FLOW_STEPS,
    SEQUENCE_STEPS,
    plot_flow,
    plot_treatment_sequence,
)
from cartreport.report.figures.patients import plot_forest, plot_responses, plot_swimmer
from cartreport.report.figures.style import (
    DAYS_PER_MONTH,
    DOUBLE_COLUMN,
    PALETTE,
    PRINT_DPI,
    SINGLE_COLUMN,
    STATE_COLOURS,
    rc_params,
    save_figure,
    save_png,
    theme,
)

__all__ = [
    "DAYS_PER_MONTH",
    "DOUBLE_COLUMN",
    "FLOW_DROPS",
    "FLOW_STEPS",
    "PALETTE",
    "PRINT_DPI",
    "SEQUENCE_STEPS",
    "SINGLE_COLUMN",
    "STATE_COLOURS",
    "StepCurve",
    "plot_cif",
    "plot_flow",
    "plot_forest",
    "plot_km",
    "plot_responses",
    "plot_state_stack",
    "plot_swimmer",
    "plot_treatment_sequence",
    "rc_params",
    "risk_table_data",
    "save_figure",
    "save_png",
    "subgroup_figure",
    "theme",
]
