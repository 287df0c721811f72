"""The demo's banner: on every figure and table a notebook displays once it is switched on."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from faceparse_lib.course.banner import hide_banner, show_banner_on_results
from faceparse_lib.visual.figures import add_banner


@pytest.fixture
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    instance = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: instance)
    yield instance
    InteractiveShell.clear_instance()


def test_the_banner_goes_on_every_figure_and_table_displayed(shell):
    plain = Figure()
    plain.add_subplot().plot([0, 1])
    assert "DEMO" not in str(shell.display_formatter.format(pd.DataFrame({"a": [1]}))[0].get("text/html", ""))
    assert show_banner_on_results("DEMO · synthetic faces")
    data, _ = shell.display_formatter.format(plain)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert [t.get_text() for t in plain.texts] == ["DEMO · synthetic faces"]
    for table in (pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1.0]}).style.format("{:.2f}")):
        html = shell.display_formatter.format(table)[0]["text/html"]
        assert html.startswith("<div") and "DEMO · synthetic faces" in html and "1" in html
    hide_banner()  # the same kernel, now on real data: no banner any more
    assert "DEMO" not in shell.display_formatter.format(pd.DataFrame({"a": [1]}))[0]["text/html"]
    real = Figure()
    real.add_subplot().plot([0, 1])
    shell.display_formatter.format(real)
    assert real.texts == []


def test_the_banner_is_added_once_and_nothing_is_registered_outside_ipython(monkeypatch):
    figure = Figure()
    add_banner(figure, "DEMO")
    add_banner(figure, "DEMO")
    assert len(figure.texts) == 1
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    assert not show_banner_on_results("DEMO")
