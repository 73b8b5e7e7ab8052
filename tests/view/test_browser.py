"""The viewer in a real headless Chromium: navigation, the rows table, compare, safety."""

from __future__ import annotations

import re

import pytest

from tests.view.conftest import Runs, Tab

pytestmark = pytest.mark.timeout(600)


def rows_shown(tab: Tab) -> list[tuple[str, str]]:
    """(row, epoch) of every line of the rows table, in order."""
    cells = tab.page.locator("#rows tbody tr")
    return [
        (str(r.get_attribute("data-row")), str(r.get_attribute("data-epoch"))) for r in cells.all()
    ]


def wait_total(tab: Tab, text: str) -> None:
    from playwright.sync_api import expect

    expect(tab.page.locator("#rows-total")).to_have_text(text)


def test_runs_then_run_then_rollout_then_back(viewer: str, tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(viewer + "/")
    expect(page.locator("#runs")).to_contain_text("run-a")
    page.get_by_role("link", name="run-a", exact=True).click()
    expect(page).to_have_url(re.compile(r"/run/run-a$"))
    expect(page.locator("#summary")).to_contain_text("pass rate")
    expect(page.locator("#summary")).to_contain_text("Wilson")
    wait_total(page_tab := tab, "12 rollouts match")
    page.locator("#rows tbody tr[data-row='8'] a").click()
    expect(page).to_have_url(re.compile(r"/run/run-a/row/8/0$"))
    expect(page.locator("h1")).to_contain_text("Row 8, epoch 0")
    error_call = page.locator("#turns tr.call.error")
    expect(error_call).to_contain_text("divide")
    expect(error_call.locator("td.result")).to_contain_text("ZeroDivisionError")
    color = error_call.locator("td.result").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(198, 40, 40)"  # the stylesheet's red
    expect(page.locator("#answer")).to_contain_text("could not finish")
    page.locator("#next-failure").click()
    expect(page).to_have_url(re.compile(r"/run/run-a/row/11/0$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/run/run-a/row/8/0$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/run/run-a$"))
    wait_total(page_tab, "12 rollouts match")
    page.go_back()
    expect(page.locator("#runs")).to_contain_text("run-b")
    page.reload()  # every page is its own URL
    expect(page.locator("#runs")).to_contain_text("hostile")
    assert tab.errors == []


def test_rows_table_sorts_and_filters_on_the_server(viewer: str, tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(viewer + "/run/run-b")
    wait_total(tab, "12 rollouts match")
    page.locator("th[data-sort='reward']").click()  # ascending: 0, 0, 1..., None last
    expect(page.locator("th[data-sort='reward']")).to_have_class(re.compile("sorted-asc"))
    expect(page.locator("#rows tbody tr").first).to_have_attribute("data-row", "8")
    assert rows_shown(tab)[-1] == ("11", "0")
    page.locator("th[data-sort='reward']").click()
    expect(page).to_have_url(re.compile(r"sort=reward&order=desc"))
    expect(page.locator("#rows tbody tr").last).to_have_attribute("data-row", "11")
    page.select_option("select[name='status']", "ERROR")
    wait_total(tab, "1 rollouts match")
    assert rows_shown(tab) == [("9", "0")]
    expect(page.locator("#rows tbody")).to_contain_text("agent_error")
    page.select_option("select[name='status']", "")
    page.select_option("select[name='category']", "grader_error")
    wait_total(tab, "1 rollouts match")
    assert rows_shown(tab) == [("11", "0")]
    page.select_option("select[name='category']", "")
    page.fill("input[name='min_reward']", "0.5")
    page.press("input[name='min_reward']", "Enter")
    page.locator("input[name='min_reward']").dispatch_event("change")
    wait_total(tab, "9 rollouts match")
    page.fill("input[name='q']", "NEEDLE-in-prompt")
    page.press("input[name='q']", "Enter")
    wait_total(tab, "1 rollouts match")
    assert rows_shown(tab) == [("10", "0")]
    page.reload()  # the filters live in the URL
    wait_total(tab, "1 rollouts match")
    expect(page.locator("input[name='q']")).to_have_value("NEEDLE-in-prompt")
    assert tab.errors == []


def test_text_typed_while_an_earlier_filter_loads_stays_in_the_box(viewer: str, tab: Tab) -> None:
    """A table redrawn by an answer that lands as the user types keeps what was typed."""
    import time

    from playwright.sync_api import Route, expect

    page = tab.page
    page.goto(viewer + "/run/run-b")
    wait_total(tab, "12 rollouts match")
    held: list[Route] = []
    rows_of_errors = re.compile(r"/api/runs/[^/]+/rows\?.*status=ERROR")
    page.route(rows_of_errors, lambda route: held.append(route))
    page.select_option("select[name='status']", "ERROR")  # its answer waits in `held`
    deadline = time.monotonic() + 60
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # the browser runs the route handler meanwhile
    assert held, "the ERROR filter's request never came"
    page.fill("input[name='q']", "NEEDLE-in-prompt")
    held[0].continue_()
    page.unroute(rows_of_errors)
    wait_total(tab, "1 rollouts match")  # the table was drawn anew under the typing
    box = page.locator("input[name='q']")
    expect(box).to_have_value("NEEDLE-in-prompt")
    expect(box).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=ERROR.*q=NEEDLE-in-prompt"))
    wait_total(tab, "0 rollouts match")
    assert tab.errors == []


def test_compare_counts_changed_rows_and_shows_both_sides(viewer: str, tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(viewer + "/")
    page.select_option("#compare-a", "run-a")
    page.select_option("#compare-b", "run-b")
    page.locator("#compare-go").click()
    counts = page.locator("#compare-counts")
    expect(counts).to_contain_text("fixed2")
    text = " ".join(counts.inner_text().split())
    assert "fixed 2" in text and "broken 1" in text and "changed 1" in text
    assert "unchanged 8" in text and "missing 0" in text
    page.locator("#only-changed").check()
    expect(page.locator("#compare-total")).to_have_text("4 rows")
    changes = page.locator("#compare-rows tbody tr")
    assert {r.get_attribute("data-row"): r.get_attribute("data-change") for r in changes.all()} == {
        "6": "fixed", "7": "fixed", "9": "broken", "11": "changed"
    }  # fmt: skip
    page.locator("#compare-rows tr[data-row='9'] button.open-pair").click()
    sides = page.locator("#side-by-side .side-by-side > .panel")
    expect(sides).to_have_count(2)
    expect(sides.nth(0)).to_contain_text("COMPLETED")
    expect(sides.nth(1)).to_contain_text("the agent exploded on purpose")
    url = page.url
    assert "changed=1" in url and "row=9" in url
    page.goto(url)  # shareable: the same view from the URL alone
    expect(page.locator("#side-by-side .side-by-side > .panel")).to_have_count(2)
    assert tab.errors == []


def test_model_output_stays_inert_text(viewer: str, tab: Tab, runs: Runs) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(viewer + "/run/hostile")
    wait_total(tab, "1 rollouts match")
    page.evaluate("window.__sentinel = 'kept'")
    title = page.title()
    page.locator("#rows tbody tr a").first.click()  # in-page navigation keeps the window
    turns = page.locator("#turns")
    expect(turns).to_contain_text("<img src=x onerror=window.__pwned=2>")
    expect(turns).to_contain_text('"a": "<script>window.__pwned=3</script>"')
    expect(page.locator("#answer")).to_contain_text('<a href="javascript:window.__pwned=6">')
    expect(page.locator("#answer")).to_contain_text("\\e]0;owned\\x07\\e[31mred")
    expect(page.locator("#prompt")).to_contain_text('<img src=x onerror="window.__pwned=7">')
    page.locator("#completion summary").click()
    for button in page.locator("button.expander").all():
        button.click()
    expect(page.locator("#completion")).to_contain_text("<script>window.__pwned=1</script>")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__sentinel") == "kept"
    assert (
        page.title() == "hostile row 0 · rolloutctl view" and title == "hostile · rolloutctl view"
    )
    assert page.locator("#main img, #main script, #main a[href^='javascript']").count() == 0
    assert tab.dialogs == [] and tab.errors == []


def test_config_secrets_are_not_shown(viewer: str, tab: Tab) -> None:
    from tests.view.conftest import SECRETS

    page = tab.page
    page.goto(viewer + "/run/hostile")
    page.locator("#config summary").click()
    text = page.locator("#config").inner_text()
    assert "10.0.0.9" in text and "***" in text
    assert not [secret for secret in SECRETS if secret in page.content()]
