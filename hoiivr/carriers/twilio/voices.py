"""Twilio's voices and languages: what ``<Say voice language>`` and ``<Gather language>``
take, as a reasoned subset of Twilio's documented lists (more can be added from the same
pages; nothing here is invented).

Sources: SAY = twilio.com/docs/voice/twiml/say (``voice``: ``man``, ``woman``, Amazon Polly
voices as ``Polly.<Name>``, Google voices as ``Google.<language>-<type>-<letter>``; an
invalid voice and language combination fails the ``<Say>``); TTS =
twilio.com/docs/voice/twiml/say/text-speech (the voices and the languages each speaks, the
``-Neural`` variants); GATHER = twilio.com/docs/voice/twiml/gather (``language``: a BCP-47
tag from the speech recognition languages, ``en-US`` by default; warnings 13331 for an
invalid language, 13330 hints, 13327 speechTimeout: twilio.com/docs/api/errors/133xx).
"""
from __future__ import annotations

import re

#: The languages of Twilio's basic ``man`` and ``woman`` voices [SAY, older TTS table];
#: Twilio writes them in lower case (``en-gb``), and takes ``en-US``.
MAN_WOMAN = frozenset({"en", "en-us", "en-gb", "es", "fr", "de"})
#: The languages of the ``alice`` voice [TTS].
ALICE = frozenset(
    {"da-DK", "de-DE", "en-AU", "en-CA", "en-GB", "en-IN", "en-US", "ca-ES", "es-ES", "es-MX",
     "fi-FI", "fr-CA", "fr-FR", "it-IT", "ja-JP", "ko-KR", "nb-NO", "nl-NL", "pl-PL", "pt-BR",
     "pt-PT", "ru-RU", "sv-SE", "zh-CN", "zh-HK", "zh-TW"})
#: Amazon Polly standard voices Twilio offers [TTS]: name -> (language, gender).
POLLY = {
    "Joanna": ("en-US", "female"), "Salli": ("en-US", "female"), "Kendra": ("en-US", "female"),
    "Kimberly": ("en-US", "female"), "Ivy": ("en-US", "female"), "Matthew": ("en-US", "male"),
    "Joey": ("en-US", "male"), "Justin": ("en-US", "male"), "Amy": ("en-GB", "female"),
    "Emma": ("en-GB", "female"), "Brian": ("en-GB", "male"), "Nicole": ("en-AU", "female"),
    "Russell": ("en-AU", "male"), "Raveena": ("en-IN", "female"),
    "Aditi": ("en-IN", "female"), "Celine": ("fr-FR", "female"), "Lea": ("fr-FR", "female"),
    "Mathieu": ("fr-FR", "male"), "Chantal": ("fr-CA", "female"),
    "Marlene": ("de-DE", "female"), "Vicki": ("de-DE", "female"), "Hans": ("de-DE", "male"),
    "Conchita": ("es-ES", "female"), "Lucia": ("es-ES", "female"),
    "Enrique": ("es-ES", "male"), "Mia": ("es-MX", "female"),
    "Penelope": ("es-US", "female"), "Miguel": ("es-US", "male"),
    "Carla": ("it-IT", "female"), "Giorgio": ("it-IT", "male"),
    "Mizuki": ("ja-JP", "female"), "Takumi": ("ja-JP", "male"),
    "Seoyeon": ("ko-KR", "female"), "Zhiyu": ("cmn-CN", "female"),
    "Camila": ("pt-BR", "female"), "Vitoria": ("pt-BR", "female"),
    "Ricardo": ("pt-BR", "male"), "Ines": ("pt-PT", "female"),
    "Cristiano": ("pt-PT", "male"), "Tatyana": ("ru-RU", "female"),
    "Maxim": ("ru-RU", "male"), "Astrid": ("sv-SE", "female"), "Lotte": ("nl-NL", "female"),
    "Ruben": ("nl-NL", "male"), "Liv": ("nb-NO", "female"), "Naja": ("da-DK", "female"),
    "Mads": ("da-DK", "male"), "Ewa": ("pl-PL", "female"), "Jacek": ("pl-PL", "male")}
#: The Polly voices above that also come as ``Polly.<Name>-Neural`` [TTS] (a subset).
POLLY_NEURAL = frozenset({"Joanna", "Salli", "Kendra", "Kimberly", "Ivy", "Matthew", "Joey",
                          "Justin", "Amy", "Emma", "Brian"})
#: The languages of Google voices, ``Google.<language>-<Standard|Wavenet|Neural2>-<A..J>``
#: [SAY, TTS] (a subset).
GOOGLE_LANGUAGES = frozenset(ALICE | {"en-AU", "es-US", "cmn-CN", "hi-IN", "id-ID", "th-TH",
                                      "vi-VN", "ms-MY"} - {"zh-CN", "zh-HK", "zh-TW", "ca-ES"})
_GOOGLE = re.compile(r"Google\.([a-z]{2,3}-[A-Z]{2})-(Standard|Wavenet|Neural2)-[A-J]")
#: The languages ``<Gather input="speech" language>`` recognizes [GATHER] (a subset; Twilio
#: writes Mandarin and Cantonese as ``cmn-Hans-CN``, ``cmn-Hant-TW``, ``yue-Hant-HK``).
SPEECH_LANGUAGES = frozenset(
    {"da-DK", "de-DE", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ", "en-PH", "en-SG",
     "en-US", "en-ZA", "es-ES", "es-MX", "es-US", "fi-FI", "fr-CA", "fr-FR", "hi-IN", "id-ID",
     "it-IT", "ja-JP", "ko-KR", "ms-MY", "nb-NO", "nl-NL", "pl-PL", "pt-BR", "pt-PT", "ru-RU",
     "sv-SE", "th-TH", "vi-VN", "cmn-Hans-CN", "cmn-Hant-TW", "yue-Hant-HK"})
#: Hoiio's genders, and the basic voice of each on Twilio.
GENDERS = {"female": "woman", "male": "man"}
#: Hoiio's two-letter languages as Twilio's voices write them; Hoiio's others (``en``,
#: ``en-GB``, ``zh-CN``...) Twilio takes as they are.
HOIIO_LANGUAGES = {"ja": "ja-JP", "ko": "ko-KR", "ms": "ms-MY", "id": "id-ID",
                   "th": "th-TH", "vi": "vi-VN"}


def locale(language: str) -> str:
    """``language`` as Twilio writes it: a Hoiio language's tag (``ja``) as its locale."""
    return HOIIO_LANGUAGES.get(language, language)


def voice_language(voice: str) -> str | None:
    """The one language a named voice speaks (Polly, Google); None for the basic voices,
    which speak several; :class:`KeyError` for a voice Twilio does not have."""
    if voice in ("man", "woman", "alice"):
        return None
    polly = voice.removeprefix("Polly.")
    if polly != voice:
        name, neural, rest = polly.partition("-")
        if name in POLLY and (not neural or (rest == "Neural" and name in POLLY_NEURAL)):
            return POLLY[name][0]
        raise KeyError(voice)
    google = _GOOGLE.fullmatch(voice)
    if google is not None and google.group(1) in GOOGLE_LANGUAGES:
        return google.group(1)
    raise KeyError(voice)


def speaks(voice: str, language: str) -> bool:
    """Whether Twilio's ``voice`` says text in ``language``."""
    if voice in ("man", "woman"):
        return language.lower() in MAN_WOMAN
    if voice == "alice":
        return language in ALICE
    return voice_language(voice) == language


def say_problem(voice: str | None, language: str | None) -> str | None:
    """Why ``<Say voice language>`` would fail on Twilio (None: it would not). ``voice``
    may be a gender (``male``, ``female``): hoiivr picks the voice then."""
    if voice is not None and voice not in GENDERS:
        try:
            voice_language(voice)
        except KeyError:
            return (f"Twilio has no voice {voice!r}: give 'male' or 'female', 'man', 'woman', "
                    "'alice', a Polly voice such as 'Polly.Joanna' or a Google voice such as "
                    "'Google.en-US-Standard-C' (twilio.com/docs/voice/twiml/say/text-speech)")
    if language is None:
        return None
    language = locale(language)
    if voice is None or voice in GENDERS:
        if language.lower() in MAN_WOMAN or language in ALICE or language in GOOGLE_LANGUAGES:
            return None
        return (f"Twilio's voices do not speak {language!r} (hoiivr knows "
                f"{', '.join(sorted(ALICE))}); or name a Polly or Google voice that does")
    if not speaks(voice, language):
        return (f"Twilio's voice {voice!r} does not speak {language!r}"
                + (f"; it speaks {voice_language(voice)}" if voice_language(voice) else ""))
    return None


def basic_voice(gender: str, language: str | None) -> str:
    """The voice hoiivr picks for a gender: ``man``/``woman`` where they speak the
    language (a locale, :func:`locale`), else ``alice``, else Google's first standard voice
    of the language (these two have no gender to choose)."""
    if language is None or language.lower() in MAN_WOMAN:
        return GENDERS[gender]
    if language in ALICE:
        return "alice"
    return f"Google.{language}-Standard-A"
