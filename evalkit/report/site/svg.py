"""Inline SVG charts, drawn in Python so the site needs no plotting library
and no script to show them. Every text that reaches the SVG is escaped."""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0-1 scale
    ci: float | None = None  # half-width of the 95% interval, 0-1 scale
    note: str = ""  # tooltip extra (run id, n)


@dataclass(frozen=True)
class Point:
    x: float
    x_label: str
    value: float
    ci: float | None = None
    note: str = ""


def _e(s: str) -> str:
    return escape(str(s), quote=True)


def _truncate(s: str, n: int) -> str:
    """Shorten from the middle: model paths differ at their ends."""
    if len(s) <= n:
        return s
    head = (n - 1) // 3
    return s[:head] + "…" + s[len(s) - (n - 1 - head):]


def _axis_max(values: list[float]) -> float:
    top = max(values, default=1.0)
    return 1.0 if top <= 1.0 else math.ceil(top * 10) / 10


def bar_chart(title: str, bars: list[Bar], width: int = 680) -> str:
    """Horizontal bars (0-100 points) with 95% CI whiskers, one per model."""
    label_w, right_w, row_h, top = 220, 70, 26, 34
    plot_w = width - label_w - right_w
    height = top + row_h * len(bars) + 24
    vmax = _axis_max([b.value + (b.ci or 0) for b in bars])
    x = lambda v: label_w + plot_w * max(0.0, min(v, vmax)) / vmax  # noqa: E731
    out = [f'<svg class="chart bar-chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>',
           f'<text class="chart-title" x="4" y="18">{_e(_truncate(title, 90))}</text>']
    for i in range(5):
        v = vmax * i / 4
        out.append(f'<line class="grid" x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 6}" y2="{height - 20}"/>'
                   f'<text class="tick" x="{x(v):.1f}" y="{height - 6}" text-anchor="middle">{v * 100:g}</text>')
    for i, b in enumerate(bars):
        y = top + i * row_h
        tip = f"{b.label}: {b.value * 100:.2f}" + (f" ± {b.ci * 100:.2f}" if b.ci is not None else "") + (
            f" ({b.note})" if b.note else "")
        out.append(f'<g class="bar"><title>{_e(tip)}</title>'
                   f'<text class="label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(_truncate(b.label, 32))}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{x(b.value) - label_w:.1f}" height="{row_h - 10}"/>')
        if b.ci is not None and b.ci > 0:
            lo, hi, mid = x(b.value - b.ci), x(b.value + b.ci), y + row_h / 2
            out.append(f'<path class="whisker" d="M{lo:.1f},{mid:.1f}H{hi:.1f}M{lo:.1f},{mid - 5:.1f}V{mid + 5:.1f}'
                       f'M{hi:.1f},{mid - 5:.1f}V{mid + 5:.1f}"/>')
        out.append(f'<text class="value" x="{width - 4}" y="{y + 15}" text-anchor="end">{b.value * 100:.1f}</text></g>')
    out.append("</svg>")
    return "".join(out)


def trend_chart(title: str, points: list[Point], width: int = 680, height: int = 240) -> str:
    """Score against checkpoint (or run order), with 95% CI error bars."""
    left, right, top, bottom = 50, 20, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    pts = sorted(points, key=lambda p: p.x)
    xs = [p.x for p in pts]
    x0, x1 = min(xs), max(xs)
    span = (x1 - x0) or 1.0
    vmax = _axis_max([p.value + (p.ci or 0) for p in pts])
    sx = lambda v: left + plot_w * ((v - x0) / span if x1 > x0 else 0.5)  # noqa: E731
    sy = lambda v: top + plot_h * (1 - max(0.0, min(v, vmax)) / vmax)  # noqa: E731
    out = [f'<svg class="chart trend-chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>',
           f'<text class="chart-title" x="4" y="18">{_e(_truncate(title, 90))}</text>']
    for i in range(5):
        v = vmax * i / 4
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{sy(v):.1f}" y2="{sy(v):.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v * 100:g}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{sx(p.x):.1f},{sy(p.value):.1f}" for i, p in enumerate(pts))
    out.append(f'<path class="line" d="{path}"/>')
    every = max(1, math.ceil(len(pts) / 10))  # at most ~10 x labels
    for i, p in enumerate(pts):
        cx, cy = sx(p.x), sy(p.value)
        tip = f"{p.x_label}: {p.value * 100:.2f}" + (f" ± {p.ci * 100:.2f}" if p.ci is not None else "") + (
            f" ({p.note})" if p.note else "")
        out.append(f'<g class="point"><title>{_e(tip)}</title>')
        if p.ci:
            lo, hi = sy(p.value - p.ci), sy(p.value + p.ci)
            out.append(f'<path class="whisker" d="M{cx:.1f},{lo:.1f}V{hi:.1f}M{cx - 4:.1f},{lo:.1f}H{cx + 4:.1f}'
                       f'M{cx - 4:.1f},{hi:.1f}H{cx + 4:.1f}"/>')
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4"/>')
        if i % every == 0 or i == len(pts) - 1:
            out.append(f'<text class="tick" x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                       f'{_e(_truncate(p.x_label, 16))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
