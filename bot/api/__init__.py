"""The gateway's HTTP API, one router module per resource."""

API_DESCRIPTION = """Residents' messages in, the assistant's replies out.

**Who is speaking.** Every resident endpoint acts for the resident named by the bearer token in
`Authorization: Bearer <token>`, never for an id the request merely mentions.

* A web page or app with anonymous residents calls `POST /api/v1/residents` with no body once per
  resident, keeps the `token` (and `user_id`, a fresh `web:` id) and sends it on every call.
* A partner system whose users are already signed in holds an integrator key (`INTEGRATOR_KEYS`) and
  calls `POST /api/v1/residents` with `{"user_id": "<its own id>"}` and the key as bearer, then acts with
  the token it gets. Ids starting with `web:`, `tg:` or `wx:` cannot be chosen.

A missing, forged or expired token gets 401 (`not_authenticated`); a token used for somebody else's
id gets 403 (`not_your_resident`). Telegram and WeChat residents are served by their own channels.
"""
