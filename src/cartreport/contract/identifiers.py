"""Column names that look like direct identifiers (names, national / passport / hospital numbers, dates of birth,
contact details), in English, French, Spanish, German, Italian, Portuguese and Dutch.

:func:`cartreport.contract.validate.validate_table` refuses such a column by its name alone and never shows its values;
:func:`cartreport.analysis.results.analyse` refuses to split curves by one (``subgroup_by``).

How a name is matched: accents are removed (``prénom`` → ``prenom``), camelCase is split, the name is lower-cased
and cut into words at anything that is not a letter or digit (``Name of patient``, ``name_of_patient`` and
``NameOfPatient`` all give ``name of patient``). The column is an identifier when

* its words run together are an identifier word (``Geburtsdatum``, ``date_of_birth`` → ``dateofbirth``), or one
  of its words is (``patient_ssn``, ``passport_no``);
* a name word (``name``, ``nom``, ``nombre``, ``Vorname``, ``cognome``, ``naam``, …) comes only with words that
  say whose name it is (``patient``, ``first``, ``donor``, ``of``, ``du``, …): ``name_of_patient`` is refused,
  ``name_of_protocol`` and ``center_name`` are not;
* the column is called ``patient`` alone (in any of the languages): such a column holds names;
* a birth word (``birth``, ``naissance``, ``nacimiento``, ``nascita``, ``nascimento``, ``geboorte``) comes only
  with date words (``date of birth``, ``fecha de nacimiento``), not ``birth_weight_g``;
* a hospital or record word comes with a number word (``hospital_id``, ``hospital no.``, ``numero de dossier``,
  ``historia clinica``), or it is a medical record / social security / national id / national insurance number.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["IDENTIFIER_HINT", "IDENTIFIER_MESSAGE", "identifier_words", "looks_like_identifier"]

IDENTIFIER_MESSAGE = (
    "this column looks like a direct identifier (a name, medical record number, date of birth or contact detail) "
    "and is refused"
)
IDENTIFIER_HINT = "delete the column from the file; the report needs only the pseudonymous patient_id"

#: a name or words run together that identify a person by themselves
_IDENTIFIER_WORDS = frozenset(
    {
        # names
        "fullname", "firstname", "lastname", "surname", "surnames", "forename", "forenames", "givenname",
        "familyname", "middlename", "maidenname", "patientname", "initials", "prenom", "prenoms", "nomdefamille",
        "nomdenaissance", "nomdusage", "apellido", "apellidos", "vorname", "vornamen", "nachname", "familienname",
        "geburtsname", "cognome", "sobrenome", "voornaam", "achternaam", "familienaam", "meisjesnaam",
        # birth dates
        "dob", "dateofbirth", "birthdate", "birthday", "datenaissance", "datedenaissance", "ddn",
        "fechanacimiento", "fechadenacimiento", "geburtsdatum", "geburtstag", "gebdatum", "datanascita",
        "datadinascita", "datanascimento", "datadenascimento", "geboortedatum", "gebdat",
        # national, insurance, passport and hospital numbers
        "mrn", "ssn", "nhs", "nhsnumber", "nationalid", "nationalidentifier", "nationalidnumber",
        "nationalinsurance", "nir", "insee", "dni", "nie", "curp", "nss", "nuss", "rut", "cpf",
        "nif", "bsn", "burgerservicenummer", "codicefiscale", "steuerid", "steueridentifikationsnummer",
        "sozialversicherungsnummer", "versichertennummer", "krankenversichertennummer", "personalausweis",
        "ausweisnummer", "passport", "passportnumber", "passeport", "pasaporte", "reisepass", "passaporto",
        "passaporte", "paspoort", "idcard", "ipp", "patientennummer", "patientnummer", "fallnummer",
        "krankenhausnummer", "nhc", "prontuario", "hospitalid", "hospitalnumber",
        # contact details
        "email", "mail", "phone", "telephone", "telefono", "telefone", "telefon", "telefoon", "mobile", "movil",
        "celular", "cellulare", "address", "adresse", "direccion", "indirizzo", "endereco",
        "adres", "domicile", "domicilio", "wohnort", "postcode", "zipcode", "postalcode", "codepostal",
        "codigopostal", "postleitzahl", "plz", "postcodigo",
    }
)  # fmt: skip
#: words meaning "name", refused when they come only with :data:`_WHOSE` words
_NAME_WORDS = frozenset(
    {"name", "names", "nom", "noms", "nombre", "nombres", "nome", "nomi", "naam", "namen"}
)
#: words that say whose name (or which date) it is, and the little words between them
_WHOSE = frozenset(
    {
        "patient", "patients", "patiente", "paciente", "pacientes", "paziente", "pazienti", "patientin", "pt",
        "pat", "first", "last", "full", "given", "family", "middle", "maiden", "sur", "fore", "birth", "donor",
        "donneur", "donante", "spender", "donatore", "dador", "dadora", "person", "persona", "personne",
        "of", "the", "de", "du", "des", "la", "le", "el", "del", "da", "do", "dos", "das", "di", "dello", "della",
        "van", "von", "der", "den", "het", "y", "e", "famille", "familia", "famiglia", "jeune", "fille", "usage",
        "complet", "completo", "vor", "nach", "voor", "achter", "pre",
    }
)  # fmt: skip
#: a column called only this holds patients' names
_PATIENT_WORDS = frozenset(
    {"patient", "patients", "patiente", "paciente", "paziente", "patientin", "patientname"}
)
_BIRTH_WORDS = frozenset({"birth", "naissance", "nacimiento", "nascita", "nascimento", "geboorte", "geburt"})
_DATE_WORDS = frozenset(
    {"date", "dt", "day", "fecha", "data", "datum", "dag", "jour", "tag", "giorno", "dia", "of", "de", "di", "du",
     "da", "del", "van", "der", "patient", "pt", "d"}
)  # fmt: skip
#: places whose number or id identifies a patient (``hospital_id``, ``numero de dossier``, ``national_id``)
_PLACE_WORDS = frozenset(
    {
        "hospital", "hopital", "hospitalier", "hospitalar", "ospedale", "ospedaliero", "krankenhaus", "klinik",
        "ziekenhuis", "dossier", "historia", "cartella", "prontuario", "chi", "nhs", "insurance", "assurance",
        "seguro", "versicherung", "assicurazione", "verzekering", "passport", "identity", "identite", "identidad",
        "identita", "identidade", "ausweis", "national", "nacional", "nazionale", "social", "securite",
        "seguridad", "sicurezza", "fiscal", "fiscale", "tax", "sozial",
    }
)  # fmt: skip
_PLACE_NUMBER_WORDS = frozenset(
    {"number", "no", "num", "nr", "nbr", "nb", "numero", "nummer", "n", "id", "ident", "identifier", "identifiant",
     "code", "codigo", "codice", "clinica", "clinique", "clinico", "card", "carte", "tarjeta", "carta", "karte",
     "kaart"}
)  # fmt: skip
#: a record, chart or case *number* identifies a patient; a ``record_id`` / ``case_id`` is usually a study code
_RECORD_WORDS = frozenset({"record", "records", "chart", "case"})
_NUMBER_WORDS = frozenset({"number", "no", "num", "nr", "nbr", "numero", "nummer"})


def identifier_words(column_name: object) -> list[str]:
    """The words of a column name as matched: accents removed, camelCase split, lower case.

    >>> identifier_words("NomDuPatient"), identifier_words("Prénom"), identifier_words(" Date de naissance ")
    (['nom', 'du', 'patient'], ['prenom'], ['date', 'de', 'naissance'])
    """
    text = unicodedata.normalize("NFKD", str(column_name))
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("ß", "ss")
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def looks_like_identifier(column_name: object) -> bool:
    """Whether a column name looks like a direct identifier: a person's name, a national, passport, medical record
    or hospital number, a date of birth, or a contact detail (see the module docstring for the rules).

    Examples
    --------
    >>> names = ("patient_name", "MRN", "DateOfBirth", "Geburtsdatum", "nombre", "Patient", "hospital_id")
    >>> [looks_like_identifier(n) for n in names]
    [True, True, True, True, True, True, True]
    >>> [looks_like_identifier(n) for n in ("patient_id", "center_name", "hospital", "birth_weight_g")]
    [False, False, False, False]
    """
    tokens = identifier_words(column_name)
    if not tokens:
        return False
    words = set(tokens)
    if "".join(tokens) in _IDENTIFIER_WORDS or words & _IDENTIFIER_WORDS:
        return True
    if words & _NAME_WORDS and words - _NAME_WORDS <= _WHOSE:
        return True
    if words <= _PATIENT_WORDS:
        return True
    if words & _BIRTH_WORDS and words - _BIRTH_WORDS <= _DATE_WORDS:
        return True
    if {"medical", "record"} <= words or {"social", "security"} <= words:
        return True
    if words & _PLACE_WORDS and words & _PLACE_NUMBER_WORDS:
        return True
    return bool(words & _RECORD_WORDS and words & _NUMBER_WORDS)
