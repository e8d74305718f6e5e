"""Metrics of the member_lifetime area. Register each with its zh/en label, formula in words and unit."""

from xiaoshuju.metrics import Metric, register

register()
