"""The simulator's TwiML numbers: Twilio's voice webhooks and TwiML, on the same engine.

A call to a TwiML number requests the number's Voice URL, signed as Twilio signs
(:mod:`.signing`), and runs the TwiML it gets back (:mod:`.parser`, :mod:`.verbs`) verb by
verb on the engine's clock, with the call's cookies kept across its webhooks; the Calls
resource lets an app (or the ``twilio`` package's ``Client``) place calls. The contract is
``../shared/TWIML.md``. Nothing here needs the ``twilio`` package.
"""
