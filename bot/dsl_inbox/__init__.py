"""The DSL web inbox: where a Designated Safeguarding Lead signs in (password + authenticator code), reads the
school's concerns, acknowledges, notes, records actions and closes them.

- accounts.py  enrolment, password + TOTP sign-in, lock-out, server-side sessions
- views.py     labels, UK times and a concern's chronology (no HTTP)
- web.py       the Sanic app at /dsl/ (its own small server: `python -m bot.dsl_inbox`)
- cli.py       `policybot dsl add-user|remove-user|unlock|users` for the IT admin
"""
