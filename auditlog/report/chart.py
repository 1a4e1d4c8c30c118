"""The charges-over-time chart as inline SVG: stacked bars (normal below, anomalous on
top) per hour or day, the change's approved window shaded, and a line at each change
and rollback. Plain SVG text, no script and nothing loaded, so the HTML report stays one
self-contained file; every text is escaped."""

from __future__ import annotations

import math
from datetime import datetime

from auditlog.report.formatting import utc, when
from auditlog.report.model import Chart
from auditlog.textsafe import html as escape

WIDTH, HEIGHT = 960, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 84
NORMAL = "#98a2b3"
MARKER_COLOURS = {"change": "#1849a9", "rollback": "#067647", "grant": "#6941c6"}
# One colour and one fill pattern per incident, so two incidents are told apart in
# grey print and by readers who do not see the colours; the legend names each.
INCIDENT_COLOURS = ("#d92d20", "#f79009", "#c11574", "#0e9384", "#7a5af8")
PATTERNS = ("solid", "stripes", "dots")
LEGEND_ROW = 18
DAY_LABEL_GAP = 76  # the width of a day's label, 'Wed 23 Sep', and some air


def nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(int(step * power) for step in (1, 2, 5, 10) if step * power >= value)


def axis(peak: int) -> tuple[int, int]:
    """(top, step) of the count axis: at most five round gridlines above zero."""
    step = nice_step(peak / 5)
    return step * max(1, math.ceil(peak / step)), step


class Frame:
    """Maps times and counts to SVG coordinates."""

    def __init__(self, start: datetime, end: datetime, top: int) -> None:
        self.start, self.end, self.top = start, end, top
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM

    def x(self, at: datetime) -> float:
        share = (at - self.start) / (self.end - self.start)
        return LEFT + min(max(share, 0.0), 1.0) * self.width

    def y(self, value: float) -> float:
        return TOP + self.height * (1 - value / self.top)


def svg_chart(chart: Chart) -> str:
    """The chart data of the report (`chart` in `accountability`) as one <svg> element."""
    bars = chart.bars
    top, step = axis(max((b.anomalous + b.normal for b in bars), default=0))
    frame = Frame(chart.start, chart.end, top)
    total = sum(b.anomalous for b in bars)
    label = (f"Charges of {', '.join(chart.products)} per {chart.bucket}: {total:,} "
             f"anomalous, by incident: {'; '.join(series_of(chart))}.")
    keys, extra = legend(series_of(chart))
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + extra}" '
             f'role="img" aria-label="{escape(label)}" class="chart">'),
             f"<title>{escape(label)}</title>"]
    parts += pattern_defs(len(series_of(chart)))
    parts += windows(chart, frame)
    parts += grid(frame, step)
    parts += bar_rects(chart, frame)
    parts += x_labels(chart, frame)
    parts += marker_lines(chart, frame)
    parts += keys
    parts.append("</svg>")
    return "\n".join(parts)


def windows(chart: Chart, frame: Frame) -> list[str]:
    out = []
    for w in chart.windows:
        x0, x1 = frame.x(w.start), frame.x(w.end)
        if x1 - x0 <= 0:
            continue
        out.append(f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 2):.1f}" '
                   f'height="{frame.height}" fill="#dcfae6" stroke="#75e0a7" '
                   f'stroke-dasharray="3 3"><title>{escape(w.label)}: '
                   f'{escape(when(w.start))} to {escape(when(w.end))}</title></rect>')
        out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{TOP + frame.height - 6}" '
                   f'text-anchor="middle" class="chart-note" fill="#067647">window</text>')
    return out


def grid(frame: Frame, step: int) -> list[str]:
    out = []
    for i in range(frame.top // step + 1):
        value = i * step
        y = frame.y(value)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{"#98a2b3" if i == 0 else "#eaecf0"}" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" '
                   f'class="chart-axis">{value:,.0f}</text>')
    return out


def series_of(chart: Chart) -> tuple[str, ...]:
    """The incidents the bars are split into; one unnamed series when not split."""
    return chart.series or ("anomalous charges",)


def fill(index: int) -> str:
    """An incident's fill: its colour, or its colour under a pattern."""
    if PATTERNS[index % len(PATTERNS)] == "solid":
        return INCIDENT_COLOURS[index % len(INCIDENT_COLOURS)]
    return f"url(#incident-{index})"


def pattern_defs(count: int) -> list[str]:
    """A fill pattern over its colour for every incident that is not solid."""
    out = []
    for index in range(count):
        kind = PATTERNS[index % len(PATTERNS)]
        colour = INCIDENT_COLOURS[index % len(INCIDENT_COLOURS)]
        if kind == "solid":
            continue
        marks = ('<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#fff" stroke-width="1.6"/>'
                 if kind == "stripes" else '<circle cx="3" cy="3" r="1.3" fill="#fff"/>')
        out.append(f'<defs><pattern id="incident-{index}" width="6" height="6" '
                   f'patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="{colour}"/>'
                   f"{marks}</pattern></defs>")
    return out


def bar_rects(chart: Chart, frame: Frame) -> list[str]:
    """Per bar: the authorized charges at the bottom, each incident's stacked on top."""
    out, step = [], 3600 if chart.bucket == "hour" else 86400
    names = series_of(chart)
    for bar in chart.bars:
        x0 = frame.x(bar.start)
        width = frame.width * step / (frame.end - frame.start).total_seconds()
        gap = min(1.0, width * 0.15)
        parts = bar.parts or (bar.anomalous,)
        split = ", ".join(f"{n:,} {name}" for n, name in zip(parts, names, strict=False) if n)
        tooltip = (f"{when(bar.start)}: {bar.anomalous:,} anomalous"
                   + (f" ({split})" if bar.anomalous else "") + f", {bar.normal:,} normal")
        out.append(f"<g><title>{escape(tooltip)}</title>")
        stacked = 0
        for index, n in [(-1, bar.normal), *enumerate(parts)]:
            if not n:
                continue
            low, high = frame.y(stacked), frame.y(stacked + n)
            colour = NORMAL if index < 0 else fill(index)
            out.append(f'<rect x="{x0 + gap / 2:.1f}" y="{high:.1f}" width="{width - gap:.1f}" '
                       f'height="{low - high:.1f}" fill="{colour}"/>')
            stacked += n
        out.append("</g>")
    return out


def x_labels(chart: Chart, frame: Frame) -> list[str]:
    """Days under the axis (over a long span, only as many as fit apart); in an hourly
    chart also a tick every six hours."""
    out, y = [], frame.y(0)
    last: float = -DAY_LABEL_GAP
    for bar in chart.bars:
        at = utc(bar.start)
        x = frame.x(at)
        if at.hour == 0:
            labelled = x - last >= DAY_LABEL_GAP
            out += tick(x, y, 8 if labelled else 4, "#667085",
                        at.strftime("%a %d %b") if labelled else "",
                        f'x="{x + 3:.1f}" y="{y + 22:.1f}" class="chart-axis strong"')
            last = x if labelled else last
        elif chart.bucket == "hour" and at.hour % 6 == 0:
            out += tick(x, y, 4, "#98a2b3", f"{at.hour:02d}:00",
                        f'x="{x:.1f}" y="{y + 16:.1f}" text-anchor="middle" class="chart-axis"')
    return out


def tick(x: float, y: float, length: int, colour: str, label: str, text_attrs: str
         ) -> list[str]:
    return [(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y:.1f}" y2="{y + length:.1f}" '
            f'stroke="{colour}"/>'), f"<text {text_attrs}>{escape(label)}</text>"]


def marker_lines(chart: Chart, frame: Frame) -> list[str]:
    """A dashed line per change or rollback, labels staggered so neighbours stay legible."""
    out = []
    for index, m in enumerate(chart.markers):
        x = frame.x(m.time)
        colour = MARKER_COLOURS.get(m.kind, "#344054")
        label_y = TOP - 24 + 12 * (index % 2)
        anchor = "end" if x > WIDTH - 160 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{label_y + 4}" y2="{frame.y(0):.1f}" '
                   f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 3"/>')
        out.append(f'<text x="{x + dx:.1f}" y="{label_y:.1f}" text-anchor="{anchor}" '
                   f'class="chart-label" fill="{colour}">{escape(m.label)} '
                   f'{escape(when(m.time)[11:16])}</text>')
    return out


def legend(series: tuple[str, ...]) -> tuple[list[str], int]:
    """Rows under the axis: each incident's swatch and name, then the authorized charges,
    wrapped to the chart's width; then the marker lines. Also how much taller than
    HEIGHT the chart gets for the rows beyond the first."""
    out: list[str] = []
    x: float = LEFT
    y = HEIGHT - 34
    for index, text in [*enumerate(series), (-1, "authorized charges")]:
        width = 30 + 6.4 * len(text)
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, y = LEFT, y + LEGEND_ROW
        out += swatch(x, y, NORMAL if index < 0 else fill(index), text)
        x += width
    extra = y - (HEIGHT - 34)
    x, y = LEFT, HEIGHT - 12 + extra
    for kind, colour in MARKER_COLOURS.items():
        out.append(f'<line x1="{x}" x2="{x + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
                   f'stroke-width="2" stroke-dasharray="5 3"/>')
        out.append(f'<text x="{x + 20}" y="{y}" class="chart-axis">{kind}</text>')
        x += 40 + 7 * len(kind)
    return out, extra


def swatch(x: float, y: float, colour: str, text: str) -> list[str]:
    return [(f'<rect x="{x:.1f}" y="{y - 10}" width="14" height="12" rx="2" fill="{colour}" '
            f'stroke="#667085" stroke-width="0.5"/>'),
            f'<text x="{x + 20:.1f}" y="{y}" class="chart-axis">{escape(text)}</text>']
