"""Plots and the HTML report."""

from trustlab.reporting._html import write_report
from trustlab.reporting._plots import (
    plot_best_so_far,
    plot_comparison,
    plot_group_rates,
    plot_trials,
)

__all__ = [
    "plot_best_so_far",
    "plot_comparison",
    "plot_group_rates",
    "plot_trials",
    "write_report",
]
