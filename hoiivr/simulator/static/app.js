// The page: polls the control API every half second and hands what it read to the
// softphone, the inspector and the destinations panel.

import { api, showError } from "./dom.js";
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
const inspector = new Inspector({ refresh, faults });
const destinations = new Destinations();
const phone = new Softphone({ refresh, onCall: (session) => inspector.follow(session) });

async function poll(tick) {
  if (tick % SLOW_EVERY === 0) await Promise.all([phone.loadNumbers(), destinations.load()]);
  const { calls } = await api("GET", "sim/calls");
  const wanted = new Set([phone.session, inspector.session(calls)].filter(Boolean));
  const details = new Map();
  await Promise.all([...wanted].map(async (session) => {
    details.set(session, await api("GET", `sim/calls/${encodeURIComponent(session)}`));
  }));
  phone.show(details.get(phone.session) || null);
  inspector.show(calls, details);
  destinations.learn(calls, details.values());
}

async function run() {
  await faults.probe();
  for (let tick = 0; ; tick++) {
    try {
      await poll(tick);
    } catch (err) {
      showError(err);
    }
    await sleep(POLL_MS);
  }
}

run();
