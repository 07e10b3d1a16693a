"""calfwalk host tool: sensor -> detector -> protocol -> link -> session -> summary -> report."""


def __getattr__(name):
    # calfwalk.__version__: the installed package's version, which its build took from
    # VERSION in firmware/app.py (the one place the version is defined)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("calfwalk")
        except PackageNotFoundError:  # a source tree on sys.path that was never installed
            from calfwalk.firmware import version as firmware_version

            return firmware_version()
    raise AttributeError(f"module 'calfwalk' has no attribute {name!r}")
