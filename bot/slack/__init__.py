"""The Slack app: slash commands, approval buttons, live threads, App Home."""
