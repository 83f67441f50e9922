"""Column names that look like direct identifiers (names, record numbers, dates of birth, contact details).

:func:`cartreport.validate.validate_table` refuses such a column by its name alone and never shows its values.
"""

from __future__ import annotations

import re

__all__ = ["IDENTIFIER_HINT", "IDENTIFIER_MESSAGE", "looks_like_identifier"]

IDENTIFIER_MESSAGE = (
    "this column looks like a direct identifier (a name, medical record number, date of birth or contact detail) "
    "and is refused"
)
IDENTIFIER_HINT = "delete the column from the file; the report needs only the pseudonymous patient_id"

_IDENTIFIER_WORDS = frozenset(
    {
        "name", "names", "fullname", "firstname", "lastname", "surname", "forename", "forenames", "givenname",
        "familyname", "middlename", "maidenname", "patientname", "initials", "mrn", "ssn", "dob", "nhs",
        "dateofbirth", "birthdate", "birthday", "email", "phone", "telephone", "mobile", "address", "postcode",
        "zipcode", "zip", "postalcode",
    }
)  # fmt: skip
_NAME_QUALIFIERS = frozenset(
    {
        "patient",
        "pt",
        "pat",
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "maiden",
        "sur",
        "fore",
        "donor",
    }
)
_NUMBER_WORDS = frozenset({"number", "no", "num", "nr", "nbr"})


def looks_like_identifier(column_name: str) -> bool:
    """Whether a column name looks like a direct identifier: a person's name, a medical record / hospital / NHS /
    social security number, a date of birth, or a contact detail.

    Examples
    --------
    >>> [looks_like_identifier(n) for n in ("patient_name", "MRN", "DateOfBirth", "patient_id", "center_name")]
    [True, True, True, False, False]
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(column_name))
    tokens = [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]
    if not tokens:
        return False
    words = set(tokens)
    if "".join(tokens) in _IDENTIFIER_WORDS or words & (_IDENTIFIER_WORDS - {"name", "names", "zip"}):
        return True
    if words & {"name", "names"} and words - {"name", "names"} <= _NAME_QUALIFIERS:
        return True
    if "birth" in words and words - {"birth"} <= {"date", "dt", "of", "day", "patient", "pt"}:
        return True
    if {"medical", "record"} <= words or {"social", "security"} <= words:
        return True
    return bool(words & {"hospital", "record", "chart", "chi", "case"} and words & _NUMBER_WORDS)
