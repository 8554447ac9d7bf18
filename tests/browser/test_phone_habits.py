"""The softphone behaves like a phone under ordinary browser habits (issue 26): double
clicks, reloads, second tabs, fast keys, a simulator restart, calls the app places, the
keyboard alone, a screen reader, a small screen."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

try:
    from playwright.sync_api import expect
except ImportError:     # the browser fixture fails with what to install
    expect = None

from hoiivr.simulator import Simulator, SimulatorServer, VirtualClock

from .conftest import DESKTOP, SMALL_PHONE
from .harness import NUMBER, Line

SUPPORT = "+6533333333"
PATIENT = "+6591234567"
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."
#: Twenty keys none of which a transferred call listens for: each is only logged, in order.
KEYS = "31415926535897932384"


def call_button(page: Any) -> Any:
    return page.get_by_role("button", name="Call", exact=True)


def in_the_menu(page: Any) -> None:
    expect(page.locator("#status")).to_contain_text("In the menu")


def keys_pressed(line: Line, session: str) -> str:
    return "".join(e["digits"] for e in line.sim.get_call(session)["timeline"]
                   if e["type"] == "keys")


def test_a_double_or_triple_click_on_call_places_one_call(line: Line, desktop: Any) -> None:
    page = desktop
    expect(page.locator("#to")).to_have_value(NUMBER)
    call_button(page).dblclick()
    in_the_menu(page)
    assert len(line.sim.calls()) == 1
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#status")).to_contain_text("Call ended")
    call_button(page).click(click_count=3)
    in_the_menu(page)
    expect(page.locator("#calls li")).to_have_count(2)
    assert len(line.sim.calls()) == 2


def test_after_a_reload_the_same_tab_drives_the_live_call(line: Line, desktop: Any) -> None:
    page = desktop
    call_button(page).click()
    in_the_menu(page)
    page.reload()
    in_the_menu(page)
    page.get_by_role("button", name="2", exact=True).click()
    expect(page.locator("#status")).to_contain_text(f"Transferred: talking to {SUPPORT}")
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#status")).to_contain_text("Call ended: the caller hung up")


def test_a_second_tab_takes_the_call_over_from_the_inspector(line: Line, desktop: Any,
                                                             pages: Any) -> None:
    call_button(desktop).click()
    in_the_menu(desktop)
    [session] = [c["session"] for c in line.sim.calls()]
    second = pages(line.url)
    expect(second.locator("#status")).to_contain_text("No call yet")
    second.locator("#calls").get_by_text(session).click()
    in_the_menu(second)
    second.get_by_role("button", name="2", exact=True).click()
    expect(second.locator("#status")).to_contain_text("Transferred")
    second.get_by_role("button", name="Hang up").click()
    expect(second.locator("#status")).to_contain_text("Call ended: the caller hung up")
    expect(desktop.locator("#status")).to_contain_text("Call ended: the caller hung up")


def test_keys_clicked_as_fast_as_possible_arrive_in_order(line: Line, desktop: Any) -> None:
    page = desktop
    line.sim.set_phone(SUPPORT, "answer", talk_seconds=3600)
    call_button(page).click()
    in_the_menu(page)
    page.get_by_role("button", name="2", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Transferred")
    [session] = [c["session"] for c in line.sim.calls()]
    page.evaluate("""keys => { for (const key of keys)
        document.querySelector(`#keypad [data-key="${key}"]`).click(); }""", KEYS)
    page.wait_for_function("""async ([session, count]) => {
        const call = await (await fetch(`sim/calls/${session}`)).json();
        return call.timeline.filter(e => e.type === "keys")
          .reduce((n, e) => n + e.digits.length, 0) >= count; }""", arg=[session, 21])
    assert keys_pressed(line, session) == "2" + KEYS


def test_the_page_recovers_by_itself_after_a_simulator_restart(line: Line,
                                                               desktop: Any) -> None:
    page = desktop
    call_button(page).click()
    in_the_menu(page)
    line.restart_simulator()
    expect(page.locator("#status")).to_contain_text("The call is gone", timeout=5000)
    expect(page.locator("#calls li")).to_have_count(0)
    expect(call_button(page)).to_have_attribute("aria-disabled", "false")
    call_button(page).click()
    in_the_menu(page)
    expect(page.locator("#calls li")).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#status")).to_contain_text("Call ended: the caller hung up")
    assert [c["state"] for c in line.sim.calls()] == ["ended"]


@pytest.fixture
def reminder() -> Iterator[Line]:
    line = Line(example="appointment_reminder")
    yield line
    line.close()


def remind(line: Line) -> str:
    reply = requests.post(line.app_server.url + "/remind", data={"number": PATIENT}, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()["session"]


def test_a_call_the_app_places_rings_here_and_is_answered(reminder: Line, pages: Any) -> None:
    page = pages(reminder.url)
    page.get_by_label("Number", exact=True).fill(PATIENT)
    page.get_by_label("Behaviour", exact=True).select_option("manual")
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.get_by_label(f"Behaviour of {PATIENT}")).to_have_value("manual")
    session = remind(reminder)
    expect(page.locator("#status")).to_contain_text(f"Incoming call to {PATIENT}")
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#heard")).to_contain_text("Hello, this is City Clinic.")
    expect(page.locator("#call-id")).to_contain_text(session)
    page.get_by_role("button", name="1", exact=True).click()
    expect(page.locator("#heard")).to_contain_text("Thank you, your appointment is confirmed.")
    expect(page.locator("#status")).to_contain_text("Call ended: the app hung up")
    assert reminder.example.outcomes == {PATIENT: "confirmed"}

    remind(reminder)                                    # and again: this one is rejected
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#incoming")).to_be_hidden()
    reminder.sim.settle(limit=10)
    assert reminder.example.outcomes == {PATIENT: "unreachable (busy)"}


def test_an_unreachable_app_is_said_so(line: Line, desktop: Any) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/hoiio/answer"
    line.sim.add_number(NUMBER, dead)
    call_button(desktop).click()
    expect(desktop.locator("#status")).to_contain_text("The app cannot be reached")
    expect(desktop.locator("#status")).not_to_contain_text("Ringing")


def test_the_keyboard_keeps_its_place_on_call_and_hang_up(line: Line, desktop: Any) -> None:
    page = desktop
    expect(page.locator("#to")).to_have_value(NUMBER)
    call_button(page).focus()
    page.keyboard.press("Enter")
    in_the_menu(page)
    assert page.evaluate("document.activeElement.id") == "hangup"
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Call ended")
    assert page.evaluate("document.activeElement.id") == "call"


def test_keys_work_while_the_voice_checkbox_has_focus(line: Line, desktop: Any) -> None:
    page = desktop
    call_button(page).click()
    in_the_menu(page)
    page.get_by_label("Speak prompts aloud").focus()
    page.keyboard.press("2")
    expect(page.locator("#status")).to_contain_text("Transferred")


#: Records what each live region would say: the text added under it, mutation by mutation.
LISTEN = """window.said = [];
new MutationObserver((mutations) => {
  for (const m of mutations) {
    const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
    if (!node?.closest("[aria-live], [role=status], [role=alert]")) continue;
    const text = m.type === "characterData" ? m.target.data
      : [...m.addedNodes].map((n) => n.textContent).join("");
    if (text.trim()) window.said.push(text);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });"""


@pytest.fixture
def slow_line() -> Iterator[Line]:
    """A line at the speed of life: a prompt plays long enough for a key to cut it."""
    line = Line(speed=1.0)
    yield line
    line.close()


def test_a_prompt_is_announced_once_and_statuses_without_the_session(slow_line: Line,
                                                                     pages: Any) -> None:
    page = pages(slow_line.url, DESKTOP)
    page.add_init_script(LISTEN)
    page.reload()
    call_button(page).click()
    expect(page.locator("#heard li")).to_have_count(2, timeout=10000)  # welcome, the menu
    expect(page.locator("#status")).to_contain_text("the prompt is playing")
    page.keyboard.press("9")                       # cuts the menu short; not an option
    expect(page.locator("#heard li.cut")).to_have_count(1)
    expect(page.locator("#heard li")).to_have_count(3)    # "Sorry..." and the menu again
    said = page.evaluate("window.said")
    assert sum(text.startswith(MENU) for text in said) == 1, said
    [session] = [c["session"] for c in slow_line.sim.calls()]
    assert not any(session in text for text in said), said


def test_on_a_small_phone_hash_and_the_prompt_stay_in_view_in_a_record(line: Line,
                                                                       pages: Any) -> None:
    page = pages(line.url, SMALL_PHONE)
    call_button(page).click()
    in_the_menu(page)
    page.locator("#keypad [data-key='0']").click()
    expect(page.locator("#status")).to_contain_text("Recording your message")
    for element in (page.locator("#keypad [data-key='#']"), page.locator("#heard li").last,
                    page.locator("#status"), page.get_by_role("button", name="Speak")):
        box = element.bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 667, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.fixture
def still() -> Iterator[tuple[Simulator, SimulatorServer]]:
    """A served simulator on a virtual clock: calls change only when the test says."""
    sim = Simulator(clock=VirtualClock())
    sim.add_account("APP", "TOKEN")
    sim.add_number(NUMBER, None)
    with SimulatorServer(sim) as server:
        yield sim, server
    sim.close()


def test_the_call_list_and_the_details_agree(still: Any, pages: Any) -> None:
    sim, server = still
    session = sim.call(PATIENT, NUMBER)
    stale = {"calls": sim.calls()}                 # read before the call changed
    sim.advance(60)                                # nobody answered: it has ended
    page = pages(server.url + "/", SMALL_PHONE)
    page.route("**/sim/calls", lambda route: route.fulfill(json=stale))
    page.reload()
    expect(page.locator("#summary")).to_contain_text("ended")
    item = page.locator("#calls").get_by_role("button", name=session)
    expect(item.locator(".state")).to_have_text("ended")
