"""A banner on every figure and table a notebook shows, for results that are not about the course's data (the demo)."""

from __future__ import annotations

from faceparse_lib.visual.figures import BANNER_COLOUR, add_banner

_REPLACED: dict = {}  # the printers the banner's replaced, (format, type) -> printer, put back by `hide_banner`


def banner_html(text: str) -> str:
    """The banner as an HTML strip, for tables."""
    return (f'<div style="background:{BANNER_COLOUR};color:white;font-weight:bold;padding:2px 6px;'
            f'display:inline-block">{text}</div>')


def _formatters():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.display_formatter.formatters


def show_banner_on_results(text: str) -> bool:
    """In IPython, put `text` on every matplotlib figure and pandas table displayed from now on; False elsewhere."""
    formatters = _formatters()
    if formatters is None:
        return False
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

    def figure_png(figure: Figure) -> bytes:
        from IPython.core.pylabtools import print_figure

        add_banner(figure, text)
        return print_figure(figure, "png", bbox_inches="tight")

    printers = [("image/png", Figure, figure_png)] + [
        ("text/html", table, lambda value: banner_html(text) + value._repr_html_()) for table in (pd.DataFrame, Styler)]
    for kind, type_, printer in printers:
        previous = formatters[kind].for_type(type_, printer)
        _REPLACED.setdefault((kind, type_), previous)
    return True


def hide_banner() -> None:
    """Put back the printers `show_banner_on_results` replaced (a real-data workspace in the demo's kernel)."""
    formatters = _formatters()
    if formatters is None:
        return
    for (kind, type_), previous in list(_REPLACED.items()):
        if previous is None:
            formatters[kind].pop(type_, None)
        else:
            formatters[kind].for_type(type_, previous)
        del _REPLACED[(kind, type_)]
