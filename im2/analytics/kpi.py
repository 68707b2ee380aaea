"""KPI forecasting, a pure core: cumulative daily values in, a linear forecast out."""

from __future__ import annotations

from collections.abc import Sequence

# Fit the trend over the last two weeks: early days of a campaign (a launch spike) should not
# decide the forecast for its last days.
FORECAST_WINDOW_DAYS = 14


def linear_forecast(cumulative: Sequence[float], days_ahead: float) -> float:
    """Extrapolate a cumulative daily series `days_ahead` days past its last point.

    The slope is the least-squares fit over the last `FORECAST_WINDOW_DAYS` points, anchored at
    the last observed value (so the forecast never starts below what was already reached). A
    single point gives no trend; a negative slope (which a cumulative count cannot have, but a
    refunded revenue can) is floored at zero growth.
    """
    if not cumulative:
        return 0.0
    last = float(cumulative[-1])
    points = list(cumulative[-FORECAST_WINDOW_DAYS:])
    n = len(points)
    if n < 2 or days_ahead <= 0:
        return last
    mean_x = (n - 1) / 2
    mean_y = sum(points) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(points))
    slope = max(sxy / sxx, 0.0)
    return last + slope * days_ahead
