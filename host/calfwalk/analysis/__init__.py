"""From events to a summary: the firmware detector replayed (detect), clocks put on one timeline (align),
the set judged against the guide (summary), and the one pipeline that chains them (pipeline)."""
