"""What the user sees: terminal summaries (present), the HTML report, the live view, the history database."""
