"""``python -m cartreport``: the ``cartreport`` command (:func:`cartreport.cli.console`)."""

from cartreport.cli import console

if __name__ == "__main__":
    console()
