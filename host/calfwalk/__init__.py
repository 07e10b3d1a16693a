"""calfwalk host tool: sensor -> detector -> protocol -> link -> session -> summary -> report."""

__version__ = "0.1.0"
