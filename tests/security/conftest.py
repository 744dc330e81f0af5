from tests.security import figures


def pytest_terminal_summary(terminalreporter):
    """One line of figures at the end of any run that included the security tests, with or without -s."""
    line = figures.summary()
    if line:
        terminalreporter.write_sep("-", line)
