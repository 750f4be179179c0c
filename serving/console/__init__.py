"""The reviewers' console: server-rendered pages, their templates and static assets."""
