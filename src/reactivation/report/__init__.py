"""Owner-facing outcomes report: did the win-back messages bring clients back, and how sure can we be?

Reads the marts (funnel, campaign performance, message outcomes), pools counts and recomputes rates and
uplift intervals from them, and writes a self-contained index.html with the charts embedded and as PNG files.
"""

from reactivation.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
