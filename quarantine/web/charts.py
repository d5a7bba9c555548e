"""Server-rendered SVG charts: stacked bars per day. Presentation attributes only (no
style attributes, no script), so the page's strict CSP applies unchanged."""

from __future__ import annotations

from html import escape

from quarantine.web.queries import Series

PALETTE = {
    "deliver": "#4c9f70", "tag": "#a3c76d", "escalate": "#e0a030", "defer": "#9aa5b1",
    "quarantine": "#d9603b", "held": "#d9603b", "reject": "#b03030", "refused": "#7d2a2a",
    "virus": "#7d2a2a", "attachment": "#b03030", "safeguarding": "#8e44ad",
    "spoofing": "#d9603b", "allowlist": "#2e86c1", "content": "#e0a030", "other": "#9aa5b1",
    "gross": "#b03030", "serious": "#d9603b", "mild": "#e0a030",
}
FALLBACK = ("#5d6d7e", "#45b39d", "#af7ac5", "#f5b041", "#5dade2")


def colour(name: str, i: int) -> str:
    return PALETTE.get(name, FALLBACK[i % len(FALLBACK)])


def stacked_bars(series: Series, title: str, width: int = 640, height: int = 220) -> str:
    left, right, top, bottom = 36, 120, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(series.days))
    totals = [sum(values[i] for values in series.stacks.values()) for i in range(n)]
    peak = max([1, *totals])
    bar_w = plot_w / n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{left}" y="14" font-size="12" font-family="sans-serif" '
           f'fill="#222">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
           'stroke="#888"/>',
           f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end" '
           f'font-family="sans-serif" fill="#444">{peak}</text>',
           f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" '
           'font-family="sans-serif" fill="#444">0</text>']
    names = list(series.stacks)
    for i, day in enumerate(series.days):
        y = top + plot_h
        for j, name in enumerate(names):
            value = series.stacks[name][i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            out.append(f'<rect x="{left + i * bar_w + 1:.1f}" y="{y:.1f}" '
                       f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                       f'fill="{colour(name, j)}"><title>{day:%d %b} {escape(name)}: '
                       f'{value}</title></rect>')
        if n <= 16 or i % max(1, n // 8) == 0:
            out.append(f'<text x="{left + i * bar_w + bar_w / 2:.1f}" y="{height - 10}" '
                       'font-size="9" text-anchor="middle" font-family="sans-serif" '
                       f'fill="#444">{day:%d/%m}</text>')
    for j, name in enumerate(names):
        y = top + 12 + j * 16
        out.append(f'<rect x="{width - right + 10}" y="{y - 9}" width="10" height="10" '
                   f'fill="{colour(name, j)}"/>')
        out.append(f'<text x="{width - right + 26}" y="{y}" font-size="11" '
                   f'font-family="sans-serif" fill="#222">{escape(name)} '
                   f'({sum(series.stacks[name])})</text>')
    if not names:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" font-size="12" '
                   'text-anchor="middle" font-family="sans-serif" fill="#888">'
                   'nothing in this period</text>')
    out.append("</svg>")
    return "".join(out)


def bars(values: dict[str, int], title: str, width: int = 320) -> str:
    """Horizontal bars: what is waiting, by category or severity."""
    row, left = 20, 100
    height = 24 + row * max(1, len(values))
    peak = max([1, *values.values()])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="14" font-size="12" font-family="sans-serif" fill="#222">'
           f'{escape(title)}</text>']
    for i, (name, value) in enumerate(values.items()):
        y = 22 + i * row
        w = (width - left - 40) * value / peak
        out.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end" '
                   f'font-family="sans-serif" fill="#222">{escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="12" '
                   f'fill="{colour(name, i)}"/>')
        out.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="11" '
                   f'font-family="sans-serif" fill="#222">{value}</text>')
    out.append("</svg>")
    return "".join(out)
