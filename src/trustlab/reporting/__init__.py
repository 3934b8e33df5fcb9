"""Plots and the HTML report."""

from trustlab.reporting._html import write_report
from trustlab.reporting._plots import plot_comparison, plot_group_rates

__all__ = ["plot_comparison", "plot_group_rates", "write_report"]
