"""Small server-rendered SVG charts (no JavaScript, no CDN): bars and lines.

Each function returns escaped, self-contained SVG markup that scales to its
container (``viewBox`` + ``width: 100%``), so it reads on a 390px phone screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 320, 150
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 30, 18, 14, 24


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _frame(title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _axis(top: float) -> list[str]:
    base = HEIGHT - PAD_BOTTOM
    return [
        f'<line class="axis" x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - PAD_RIGHT}" y2="{base}"/>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{escape(_number(top))}</text>",
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{base}" text-anchor="end">0</text>',
    ]


def _scale(values: Sequence[float | None]) -> float:
    top = max((v for v in values if v is not None), default=0.0)
    return top if top > 0 else 1.0


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Markup:
    """One bar per label (e.g. a week), its value written above it."""
    top = _scale(values)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(len(values), 1)
    body = _axis(top)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD_LEFT + index * step + step * 0.15
        height = 0.0 if value is None else inner_h * value / top
        y = HEIGHT - PAD_BOTTOM - height
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{height:.1f}"><title>{escape(label)}: '
            f"{escape('—' if value is None else _number(value))}</title></rect>"
        )
        centre = x + step * 0.35
        if value is not None:
            body.append(
                f'<text class="val" x="{centre:.1f}" y="{y - 2:.1f}" text-anchor="middle">'
                f"{escape(_number(value))}</text>"
            )
        body.append(
            f'<text class="tick" x="{centre:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return _frame(title, body)


def line_chart(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Markup:
    """A line through the values (gaps where a value is unknown), with dots."""
    top = _scale(values)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(len(values) - 1, 1)
    body = _axis(top)
    points: list[str] = []
    segments: list[list[str]] = [points]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD_LEFT + index * step
        body.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
        if value is None:
            points = []
            segments.append(points)
            continue
        y = HEIGHT - PAD_BOTTOM - inner_h * value / top
        points.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: '
            f"{escape(_number(value))}</title></circle>"
        )
    for segment in segments:
        if len(segment) > 1:
            body.insert(3, f'<polyline class="line" points="{" ".join(segment)}"/>')
    return _frame(title, body)
