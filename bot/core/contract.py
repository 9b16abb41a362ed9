"""Names that cross from the library to the Rasa side and back: parse-data and metadata keys, the intents the
safeguarding screen sets, the slots and actions that carry a hand-off. Defined once here; components/, actions/,
channels/, domain/ and data/ use these names (tests/test_contract.py checks the domain and data agree).
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------------ parse data

#: The screen's verdict on a message (ScreenResult.to_dict()), set by the NLU component on every message.
VERDICT_KEY = "safeguarding"
#: The message text's sentence embedding as the NLU featurizer computed it (bot.core.embedder.pack_embedding: float16,
#: base64, with the model's name and a digest of the exact text embedded), so the action server's search reuses it
#: instead of running the model again (bot.core.embedder.carried_embeddings). Derived from the person's words: it lives
#: only where the text does (the encrypted tracker store) and is never logged or kept elsewhere.
EMBEDDING_KEY = "text_embedding"

# ------------------------------------------------------------------------------------------------ metadata

#: The person's school and role, set by the channel (web chat page, Teams tenant) or a trusted REST client.
SCHOOL_KEY = "school"
ROLE_KEY = "role"
#: The channel's key for a message, stable across a client's retries: a concern record is never written twice.
MESSAGE_ID_KEY = "message_id"
#: An over-long message's whole text, for the concern record (the pipeline gets a shortened copy).
FULL_TEXT_KEY = "full_text"
#: Set by a channel that knows the person works for the trust (a Teams tenant): cross-school comparisons.
TRUST_STAFF_KEY = "trust_staff"

# ------------------------------------------------------------------------------------------------ intents

#: The screen says: hand this message to the DSL (a disclosure or concern).
DISCLOSURE_INTENT = "safeguarding_disclosure"
#: The screen says: some risk, not confident; check in gently before anything else.
CHECK_IN_INTENT = "safeguarding_check_in"
#: The message is in another language: signposting and an offer of a member of staff, in that language.
OTHER_LANGUAGE_INTENT = "other_language"
#: The buttons of the check-in and of the other-language reply.
PASS_ON_INTENT = "safeguarding_pass_on"
NOT_NOW_INTENT = "safeguarding_not_now"
SAFEGUARDING_INTENTS = (DISCLOSURE_INTENT, CHECK_IN_INTENT, OTHER_LANGUAGE_INTENT)
#: A question about the school's policy (what a concern that asks one is also answered on).
ASK_POLICY_INTENT = "ask_policy"
#: "I'm new": start (or resume) the induction; also the payload of the button that offers it after an answer.
START_INDUCTION_INTENT = "start_induction"

# ------------------------------------------------------------------------------------------------ actions, slots

HANDOFF_ACTION = "action_dsl_handoff"
CHECK_IN_ACTION = "action_safeguarding_check_in"
OTHER_LANGUAGE_ACTION = "action_other_language"
PASS_ON_ACTION = "action_safeguarding_pass_on"
NOT_NOW_ACTION = "action_safeguarding_not_now"
#: The message id of a message waiting for the person's answer to a check-in (or language offer).
PENDING_CHECK_IN_SLOT = "pending_check_in"
