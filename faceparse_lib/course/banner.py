"""A banner on every figure and table a notebook shows, for results that are not about the course's data (the demo)."""

from __future__ import annotations

BANNER_COLOUR = "#b00020"
_BANNER_GID = "faceparse-banner"


def add_banner(figure, text: str) -> None:
    """Write `text` across the top of a matplotlib figure, once."""
    if any(artist.get_gid() == _BANNER_GID for artist in figure.texts):
        return
    figure.text(0.5, 1.0, text, ha="center", va="bottom", fontsize=10, fontweight="bold", color="white",
                gid=_BANNER_GID, bbox=dict(boxstyle="square,pad=0.3", facecolor=BANNER_COLOUR, edgecolor="none"))


def banner_html(text: str) -> str:
    """The banner as an HTML strip, for tables."""
    return (f'<div style="background:{BANNER_COLOUR};color:white;font-weight:bold;padding:2px 6px;'
            f'display:inline-block">{text}</div>')


def show_banner_on_results(text: str) -> bool:
    """In IPython, put `text` on every matplotlib figure and pandas table displayed from now on; False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

    formatters = shell.display_formatter.formatters

    def figure_png(figure: Figure) -> bytes:
        from IPython.core.pylabtools import print_figure

        add_banner(figure, text)
        return print_figure(figure, "png", bbox_inches="tight")

    formatters["image/png"].for_type(Figure, figure_png)
    for table in (pd.DataFrame, Styler):
        formatters["text/html"].for_type(table, lambda value: banner_html(text) + value._repr_html_())
    return True
