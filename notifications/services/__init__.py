"""Rules of the notifications app, by topic: channels (CRUD, secrets, preferences), delivery (the log, retries,
switching a failing channel off), listener (events -> notifications), telegram (linking, commands), reports (the daily
report) and devices (new sign-ins)."""
