// The page: polls the control API every half second and hands what it read to the
// softphone, the inspector and the destinations panel. A poll that fails (the simulator
// is restarting) is shown, and the next ones go on as if nothing happened: calls the
// simulator no longer knows are let go.

import { api, hideError, showError } from "./dom.js";
import { Inspector } from "./inspector.js";
import { Destinations, Faults } from "./panels.js";
import { Softphone } from "./softphone.js";

const POLL_MS = 500;
const SLOW_EVERY = 4;                   // numbers and phones change rarely: every 2 s

let wake = null;                        // ends the current sleep early
let again = false;                      // a refresh came mid-poll: skip the next sleep

/** Polls again now rather than in half a second (the user just did something). */
function refresh() {
  if (wake) wake(); else again = true;
}

function sleep(ms) {
  return new Promise((resolve) => {
    if (again) {
      again = false;
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wake = null;
      resolve();
    }
    wake = done;
  });
}

const faults = new Faults();
const destinations = new Destinations();
let phone = null;
const inspector = new Inspector({
  refresh, faults,
  // Choosing a live call while the softphone is free takes it over (another tab's call).
  onChoose: (call) => { if (!phone.live && call.state !== "ended") phone.follow(call.session); },
});
phone = new Softphone({ refresh, onCall: (session) => inspector.follow(session) });

/** The call's details, or null if the simulator does not know it (any more). */
async function detail(session) {
  try {
    return await api("GET", `sim/calls/${encodeURIComponent(session)}`);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

async function poll(tick) {
  if (tick % SLOW_EVERY === 0) {
    await Promise.all([phone.loadNumbers(), destinations.load(), faults.probe()]);
  }
  const driven = phone.session;         // a Call clicked meanwhile changes it
  const { calls } = await api("GET", "sim/calls");
  const known = new Set(calls.map((c) => c.session));
  inspector.forget(known);
  const wanted = new Set([driven, inspector.session(calls)].filter((s) => known.has(s)));
  const details = new Map();
  await Promise.all([...wanted].map(async (session) => {
    const call = await detail(session);
    if (call) details.set(session, call);
  }));
  if (driven && driven === phone.session && !details.has(driven)) phone.lost();
  phone.show(details.get(phone.session) || null, calls);
  inspector.show(calls, details);
  destinations.learn(calls, details.values());
}

async function run() {
  let failing = false;
  for (let tick = 0; ; tick++) {
    try {
      await poll(tick);
      if (failing) hideError();
      failing = false;
    } catch (err) {
      showError(err);
      failing = true;
    }
    await sleep(POLL_MS);
  }
}

run();
