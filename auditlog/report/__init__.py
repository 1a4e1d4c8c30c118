"""Reports for people: the accountability report (Markdown, HTML, terminal)."""
