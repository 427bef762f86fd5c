"""Alerts: what needs a person's attention, found by one server process every `alert_interval`
seconds and told once when it starts and once when it ends.

- `sources.py`: the registry of alert sources. A source is one function that reads the database
  and returns what it finds now, as Findings (kind, subject, one sentence, a dashboard link).
- `evaluator.py`: a round (run every source, open what is new, resolve what went away, then
  deliver), the lease that lets only one server process evaluate, and the background thread.
- `delivery.py`: the channels, e-mail over SMTP and a webhook (Slack-compatible JSON).
docs/alerts.md explains every alert, its threshold in server.toml and the channels.
"""
